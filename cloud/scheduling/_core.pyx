# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled scheduling core: constructive schedule, evaluator and tabu search.

A solution is a machine for every operation and an order of the operations on every machine (doubly
linked lists). Decoding it gives the semi-active schedule: each operation starts as soon as its job
predecessors have arrived (end plus transport time between plants), its machine predecessor has
ended, its job is released and a gap in the machine's calendar fits it. Frozen operations keep their
machine and start; they are not in the machine lists but their intervals are in the calendar.

The search is a tabu search on the critical path(s) of the disjunctive graph: N5/N7-style moves of an
operation to the front or end of its critical block, and reassignment of a critical operation to
another eligible machine at a position that cannot create a cycle. For the pure makespan objective
moves are ranked by head/tail estimates (O(block) each, as in Dell'Amico-Trubian and
Mastrolilli-Gambardella); for other objectives the best-estimated candidates are decoded and
evaluated exactly.
Everything below ``solve`` runs without the GIL on C arrays. Their structs, named as in the
Python model, are in ``_core.pxd``; a problem's arrays and a solve's are each one allocation
(``carve``).
"""

from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memset
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

cdef extern from "<pthread.h>" nogil:
    ctypedef unsigned long pthread_t
    int pthread_create(pthread_t *thread, const void *attr, void *(*start)(void *) noexcept nogil,
                       void *arg)
    int pthread_join(pthread_t thread, void **result)

cdef i64 NEG = -4611686018427387904
# Beyond every calendar: an operation that fits in none of its machine's open periods starts here
# (models.NEVER); the solver reports it as infeasible.
cdef i64 NEVER = 1125899906842624
cdef double INF = 1e300

cdef enum:
    # Exact evaluation decodes this many candidates per iteration.
    EXACT_SAMPLE = 40
    # The tabu list is a lossy hash table of 2**TABU_BITS attributes.
    TABU_BITS = 16


cdef inline double now() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef inline u64 random_u64(Workspace *ws) noexcept nogil:
    cdef u64 x = ws.rng
    x ^= x >> 12
    x ^= x << 25
    x ^= x >> 27
    ws.rng = x
    return x * 2685821657736338717ULL


cdef inline int random_below(Workspace *ws, int bound) noexcept nogil:
    return <int>((random_u64(ws) >> 33) % <u64>bound)


cdef inline i64 transport_time(Problem *problem, int a, int b) noexcept nogil:
    if not problem.has_transport:
        return 0
    return problem.transport[problem.plant[a] * problem.plant_count + problem.plant[b]]


cdef inline int period_after(Problem *problem, int k, i64 t) noexcept nogil:
    """Index of machine k's first open period that ends after t (its last index + 1 if none)."""
    cdef int lo = problem.calendar_ptr[k], hi = problem.calendar_ptr[k + 1], mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if problem.calendar_end[mid] <= t:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline i64 open_start(Problem *problem, int k, i64 t, i64 d, int res) noexcept nogil:
    """Earliest start >= t that machine k's calendar allows work d: an open instant if the work is
    resumable, else the start of a room of d in one open period. NEVER if there is none."""
    cdef int lo, last = problem.calendar_ptr[k + 1]
    cdef i64 s
    if not problem.calendar_on[k] or d == 0 or t >= NEVER:
        return t
    lo = period_after(problem, k, t)
    while lo < last:
        s = t if t > problem.calendar_start[lo] else problem.calendar_start[lo]
        if res or s + d <= problem.calendar_end[lo]:
            return s
        lo += 1
    return NEVER


cdef inline i64 open_end(Problem *problem, int k, i64 s, i64 d, int res) noexcept nogil:
    """End of work d started at s, a start ``open_start`` allows: resumable work pauses over
    machine k's closed time, so its span stretches. Past NEVER if the calendar runs out."""
    cdef int lo, last = problem.calendar_ptr[k + 1]
    if not res or not problem.calendar_on[k] or d == 0 or s >= NEVER:
        return s + d
    lo = period_after(problem, k, s)
    while lo < last:
        if s + d <= problem.calendar_end[lo]:
            return s + d
        d -= problem.calendar_end[lo] - s
        lo += 1
        if lo < last:
            s = problem.calendar_start[lo]
    return NEVER + d


cdef i64 fit(Problem *problem, int k, int i, i64 t, i64 d, const i64 *bs, const i64 *be, int lo,
             int last, i64 *end) noexcept nogil:
    """Earliest start >= t of operation i (work d) on machine k that its calendar allows and whose
    span overlaps none of the intervals [bs, be) in lo..last (ordered by start and by end);
    the span's end goes to ``end``."""
    cdef int hi = last, mid, res = problem.resumable[i]
    cdef i64 s, e
    while lo < hi:
        mid = (lo + hi) >> 1
        if be[mid] <= t:
            lo = mid + 1
        else:
            hi = mid
    if not problem.calendar_on[k]:
        # Always open: the first gap that holds d.
        while lo < last and bs[lo] < t + d:
            t = be[lo]
            lo += 1
        end[0] = t + d
        return t
    while True:
        s = open_start(problem, k, t, d, res)
        e = open_end(problem, k, s, d, res)
        while lo < last and be[lo] <= s:
            lo += 1
        if lo < last and bs[lo] < e:
            t = be[lo]
            lo += 1
            continue
        end[0] = e
        return s


cdef inline i64 calendar_fit(Problem *problem, int k, int i, i64 t, i64 d, i64 *end) noexcept nogil:
    """Earliest start >= t of operation i on machine k in its calendar, clear of its blocked
    intervals (windows, frozen operations)."""
    return fit(problem, k, i, t, d, problem.blocked_start, problem.blocked_end,
               problem.blocked_ptr[k], problem.blocked_ptr[k + 1], end)


cdef i64 latest_start(Problem *problem, int k, int i, i64 t, i64 d) noexcept nogil:
    """Latest start of operation i's work d on machine k that the calendar lets end by t, the
    mirror of ``open_start``/``open_end`` (NEG if the calendar has no room before t)."""
    cdef int first = problem.calendar_ptr[k], lo = first, hi = problem.calendar_ptr[k + 1], mid
    cdef i64 e
    if not problem.calendar_on[k] or d == 0:
        return t - d
    # The last open period that starts before t.
    while lo < hi:
        mid = (lo + hi) >> 1
        if problem.calendar_start[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    lo -= 1
    while lo >= first:
        e = t if t < problem.calendar_end[lo] else problem.calendar_end[lo]
        if e - d >= problem.calendar_start[lo]:
            return e - d
        if problem.resumable[i]:
            d -= e - problem.calendar_start[lo]
        lo -= 1
        if lo >= first:
            t = problem.calendar_end[lo]
    return NEG


# ---------------------------------------------------------------- sequence-dependent setups

cdef inline i64 setup_between(Problem *problem, int k, int fa, int fb) noexcept nogil:
    """Setup on machine k from family fa to family fb (-1: nothing to change from or to)."""
    if fa < 0 or fb < 0:
        return 0
    return problem.setup[(k * problem.family_count + fa) * problem.family_count + fb]


cdef inline int setup_pred(Schedule *sched, int a) noexcept nogil:
    """The operation a setup follows: a, or before it in the list past zero-length ones
    (milestones: no setup before or after them)."""
    while a >= 0 and sched.duration[a] == 0:
        a = sched.machine_prev[a]
    return a


cdef inline i64 setup_before(Problem *problem, Schedule *sched, int k, int a, int b) noexcept nogil:
    """Setup on machine k before operation b when a (-1: none) precedes it in k's list."""
    if not problem.has_setups or sched.duration[b] == 0:
        return 0
    a = setup_pred(sched, a)
    if a < 0:
        return 0
    return setup_between(problem, k, problem.family[a], problem.family[b])


cdef inline i64 work_with_setup(Problem *problem, Schedule *sched, int i) noexcept nogil:
    """Work of i on its machine, its setup after its machine predecessor included."""
    return sched.duration[i] + setup_before(problem, sched, sched.machine[i],
                                            sched.machine_prev[i], i)


cdef inline int frozen_before(Problem *problem, int k, i64 t) noexcept nogil:
    """The frozen operation of machine k that ends last at or before t (-1: none)."""
    cdef int lo = problem.frozen_ptr[k], hi = problem.frozen_ptr[k + 1], mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if problem.frozen_end[mid] <= t:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1 if lo > problem.frozen_ptr[k] else -1


cdef i64 place(Problem *problem, int k, int i, int mp, i64 pe, i64 t, i64 d, const i64 *bs,
               const i64 *be, int lo, int last, i64 *end) noexcept nogil:
    """``fit`` for the setup and the work d of operation i as one block, the setup from the
    operation before it on machine k: mp (ending at pe; -1: none, past zero-length ones), or a
    frozen operation that ends between the two. The block's start is the setup's start."""
    cdef int fa, g
    cdef i64 s
    if not problem.has_setups or d == 0:
        return fit(problem, k, i, t, d, bs, be, lo, last, end)
    fa = problem.family[mp] if mp >= 0 else -1
    if mp < 0:
        pe = NEG
    while True:
        s = fit(problem, k, i, t, d + setup_between(problem, k, fa, problem.family[i]), bs, be, lo,
                last, end)
        if s >= NEVER:
            return s
        g = frozen_before(problem, k, s)
        if g < 0 or problem.frozen_end[g] <= pe:
            return s
        pe = problem.frozen_end[g]
        if problem.frozen_family[g] == fa:
            return s
        # The frozen operation is the one before i: its family sets the setup, from its end on.
        fa = problem.frozen_family[g]
        if pe > t:
            t = pe


cdef inline i64 decode_fit(Problem *problem, Schedule *sched, i64 *en, int k, int i, i64 t,
                          i64 *end) noexcept nogil:
    """Span start of operation i on machine k from t (the decoder's placement)."""
    cdef int mp = setup_pred(sched, sched.machine_prev[i])
    return place(problem, k, i, mp, en[mp] if mp >= 0 else NEG, t, sched.duration[i],
                 problem.blocked_start, problem.blocked_end, problem.blocked_ptr[k],
                 problem.blocked_ptr[k + 1], end)


cdef i64 setup_from(Problem *problem, int k, int i, i64 d, int mp, i64 pe, i64 s) noexcept nogil:
    """When the setup of operation i (work d on machine k), started at s, is done (s when it
    has none): the setup from mp (its setup predecessor, ending at pe) or a frozen operation in
    between, in the machine's open time."""
    cdef int fa, g
    cdef i64 sd
    if not problem.has_setups or problem.frozen_machine[i] >= 0 or d == 0:
        return s
    fa = problem.family[mp] if mp >= 0 else -1
    g = frozen_before(problem, k, s)
    if g >= 0 and (mp < 0 or problem.frozen_end[g] > pe):
        fa = problem.frozen_family[g]
    sd = setup_between(problem, k, fa, problem.family[i])
    if sd == 0:
        return s
    return open_end(problem, k, s, sd, problem.resumable[i])


cdef i64 setup_done(Problem *problem, Schedule *sched, const i64 *en, int i, i64 s) noexcept nogil:
    """``setup_from`` for decoded operation i, after its list predecessor (ends in ``en``)."""
    cdef int mp = setup_pred(sched, sched.machine_prev[i])
    return setup_from(problem, sched.machine[i], i, sched.duration[i], mp,
                      en[mp] if mp >= 0 else NEG, s)


cdef i64 setup_end(Problem *problem, Schedule *sched, int i, i64 *work_start) noexcept nogil:
    """When the setup of decoded operation i is done (its start when it has none); its work
    starts at the next open instant (``work_start``)."""
    cdef i64 se = setup_done(problem, sched, sched.end, i, sched.start[i])
    work_start[0] = sched.start[i]
    if se == sched.start[i]:
        return se
    work_start[0] = open_start(problem, sched.machine[i], se, sched.duration[i],
                               problem.resumable[i])
    return se


# ---------------------------------------------------------------- operators

cdef i64 operator_retry(Problem *problem, Workspace *ws, int o, i64 s, i64 e) noexcept nogil:
    """s if operator o can attend [s, e) (within one period of their roster, free); else a
    later time worth trying, NEVER if none."""
    cdef int lo, hi, mid, base = ws.attended_ptr[o]
    cdef int last = ws.attended_ptr[o] + ws.attended_count[o]
    if problem.roster_on[o]:
        lo, hi = problem.roster_ptr[o], problem.roster_ptr[o + 1]
        while lo < hi:
            mid = (lo + hi) >> 1
            if problem.roster_end[mid] <= s:
                lo = mid + 1
            else:
                hi = mid
        if lo >= problem.roster_ptr[o + 1]:
            return NEVER
        if problem.roster_start[lo] > s:
            return problem.roster_start[lo]
        if e > problem.roster_end[lo]:
            return problem.roster_start[lo + 1] if lo + 1 < problem.roster_ptr[o + 1] else NEVER
    # Attended intervals are apart and sorted by start, so by end too.
    lo, hi = base, last
    while lo < hi:
        mid = (lo + hi) >> 1
        if ws.attended_end[mid] <= s:
            lo = mid + 1
        else:
            hi = mid
    if lo < last and ws.attended_start[lo] < e:
        return ws.attended_end[lo]
    return s


cdef void operator_take(Workspace *ws, int o, i64 s, i64 e) noexcept nogil:
    cdef int base = ws.attended_ptr[o], pos = ws.attended_ptr[o] + ws.attended_count[o]
    while pos > base and ws.attended_start[pos - 1] > s:
        ws.attended_start[pos] = ws.attended_start[pos - 1]
        ws.attended_end[pos] = ws.attended_end[pos - 1]
        pos -= 1
    ws.attended_start[pos] = s
    ws.attended_end[pos] = e
    ws.attended_count[o] += 1


cdef i64 attend(Problem *problem, Workspace *ws, int k, int i, i64 d, int mp, i64 pe, i64 s, i64 *f,
                int occ, int commit) noexcept nogil:
    """Operation i (work d, setup predecessor mp ending at pe) placed at s (ending at f) on
    machine k: the first operator with its skill who can attend it (all of its span, or its
    setup) takes it (``commit``; else ``ws.choice_operator``/``ws.choice_operator_end`` say
    who and until when); if none can, it is placed again from the earliest time one might,
    in the machine's occupied
    intervals (``occ``: the constructive schedule) or its blocked ones (the decoder)."""
    cdef int o, best
    cdef i64 e, r, nxt
    while True:
        ws.decoded_operator[i] = -1
        ws.choice_operator[i] = -1
        if s >= NEVER:
            return s
        e = setup_from(problem, k, i, d, mp, pe, s) if problem.setup_only[i] else f[0]
        if e <= s:
            return s
        best = -1
        nxt = NEVER
        for o in range(problem.operator_count):
            if not (problem.operator_skills[o] >> problem.skill[i]) & 1:
                continue
            if problem.operator_plant[o] >= 0 and problem.operator_plant[o] != problem.plant[k]:
                continue
            r = operator_retry(problem, ws, o, s, e)
            if r == s:
                best = o
                break
            if r < nxt:
                nxt = r
        if best >= 0:
            if commit:
                operator_take(ws, best, s, e)
                ws.decoded_operator[i] = best
            ws.choice_operator[i] = best
            ws.choice_operator_end[i] = e
            return s
        if nxt >= NEVER:
            f[0] = NEVER
            return NEVER
        if occ:
            s = place(problem, k, i, mp, pe, nxt, d, ws.occupied_start, ws.occupied_end,
                      ws.occupied_ptr[k], ws.occupied_ptr[k] + ws.occupied_count[k], f)
        elif problem.has_calendars:
            s = place(problem, k, i, mp, pe, nxt, d, problem.blocked_start, problem.blocked_end,
                      problem.blocked_ptr[k], problem.blocked_ptr[k + 1], f)
        else:
            s = nxt
            f[0] = s + d + (setup_between(problem, k, problem.family[mp], problem.family[i])
                            if problem.has_setups and mp >= 0 and d > 0 else 0)


cdef inline void heap_push(Workspace *ws, int *size, int i) noexcept nogil:
    cdef int c = size[0], p, x
    ws.heap[c] = i
    size[0] += 1
    while c > 0:
        p = (c - 1) >> 1
        if ws.decode_key[ws.heap[p]] < ws.decode_key[ws.heap[c]] or (
                ws.decode_key[ws.heap[p]] == ws.decode_key[ws.heap[c]] and ws.heap[p] < ws.heap[c]):
            break
        x = ws.heap[p]
        ws.heap[p] = ws.heap[c]
        ws.heap[c] = x
        c = p


cdef inline int heap_pop(Workspace *ws, int *size) noexcept nogil:
    cdef int top = ws.heap[0], c = 0, l, r, m, x
    size[0] -= 1
    ws.heap[0] = ws.heap[size[0]]
    while True:
        l = 2 * c + 1
        r = l + 1
        m = c
        if l < size[0] and (ws.decode_key[ws.heap[l]] < ws.decode_key[ws.heap[m]] or (
                ws.decode_key[ws.heap[l]] == ws.decode_key[ws.heap[m]]
                and ws.heap[l] < ws.heap[m])):
            m = l
        if r < size[0] and (ws.decode_key[ws.heap[r]] < ws.decode_key[ws.heap[m]] or (
                ws.decode_key[ws.heap[r]] == ws.decode_key[ws.heap[m]]
                and ws.heap[r] < ws.heap[m])):
            m = r
        if m == c:
            return top
        x = ws.heap[m]
        ws.heap[m] = ws.heap[c]
        ws.heap[c] = x
        c = m


cdef int evaluate_staffed(Problem *problem, Schedule *sched, Workspace *ws, i64 *st,
                          i64 *en) noexcept nogil:
    """``evaluate`` with operators: operators are taken first come, first served, so the ready
    operations are decoded in the order of ``ws.decode_key`` (the constructive schedule's picks,
    then
    the best plan's starts), not breadth first. Returns -1 on a cycle."""
    cdef int n = problem.operation_count, i, p, e, k, mp, sp, t = 0, size = 0
    cdef i64 a, s, f
    for i in range(problem.operator_count):
        ws.attended_count[i] = 0
    for i in range(n):
        ws.indegree[i] = problem.pred_ptr[i + 1] - problem.pred_ptr[i] \
            + (1 if sched.machine_prev[i] >= 0 else 0)
        if ws.indegree[i] == 0:
            heap_push(ws, &size, i)
    while size > 0:
        i = heap_pop(ws, &size)
        ws.queue[t] = i
        t += 1
        k = sched.machine[i]
        ws.decoded_operator[i] = -1
        if problem.frozen_machine[i] >= 0:
            s = problem.frozen_start[i]
            f = s + sched.duration[i]
        else:
            s = problem.release[i]
            for e in range(problem.pred_ptr[i], problem.pred_ptr[i + 1]):
                p = problem.preds[e]
                a = en[p] + transport_time(problem, sched.machine[p], k)
                if a > s:
                    s = a
            ws.job_arrival[i] = s
            mp = sched.machine_prev[i]
            if mp >= 0 and en[mp] > s:
                s = en[mp]
            if problem.has_calendars:
                s = decode_fit(problem, sched, en, k, i, s, &f)
            else:
                f = s + work_with_setup(problem, sched, i)
            if problem.skill[i] >= 0:
                sp = setup_pred(sched, sched.machine_prev[i])
                s = attend(problem, ws, k, i, sched.duration[i], sp, en[sp] if sp >= 0 else NEG, s,
                           &f, 0, 1)
        st[i] = s
        en[i] = f
        for e in range(problem.succ_ptr[i], problem.succ_ptr[i + 1]):
            p = problem.succs[e]
            ws.indegree[p] -= 1
            if ws.indegree[p] == 0:
                heap_push(ws, &size, p)
        mp = sched.machine_next[i]
        if mp >= 0:
            ws.indegree[mp] -= 1
            if ws.indegree[mp] == 0:
                heap_push(ws, &size, mp)
    ws.topo_count = t
    if st == sched.start:
        memcpy(sched.operator_of, ws.decoded_operator, n * sizeof(int))
    return 0 if t == n else -1


# ---------------------------------------------------------------- decoding and objective

cdef int evaluate(Problem *problem, Schedule *sched, Workspace *ws, i64 *st,
                  i64 *en) noexcept nogil:
    """Semi-active decode in topological order (Kahn): starts in ``st``, span ends in ``en``.
    Returns -1 if the graph has a cycle."""
    cdef int n = problem.operation_count, i, p, e, k, mp, h = 0, t = 0
    cdef i64 a, s, f
    if problem.operator_count:
        return evaluate_staffed(problem, sched, ws, st, en)
    for i in range(n):
        ws.indegree[i] = problem.pred_ptr[i + 1] - problem.pred_ptr[i] \
            + (1 if sched.machine_prev[i] >= 0 else 0)
        if ws.indegree[i] == 0:
            ws.queue[t] = i
            t += 1
    while h < t:
        i = ws.queue[h]
        h += 1
        k = sched.machine[i]
        if problem.frozen_machine[i] >= 0:
            s = problem.frozen_start[i]
            f = s + sched.duration[i]
        else:
            s = problem.release[i]
            for e in range(problem.pred_ptr[i], problem.pred_ptr[i + 1]):
                p = problem.preds[e]
                a = en[p] + transport_time(problem, sched.machine[p], k)
                if a > s:
                    s = a
            ws.job_arrival[i] = s
            mp = sched.machine_prev[i]
            if mp >= 0 and en[mp] > s:
                s = en[mp]
            if problem.has_calendars:
                s = decode_fit(problem, sched, en, k, i, s, &f)
            else:
                f = s + work_with_setup(problem, sched, i)
        st[i] = s
        en[i] = f
        for e in range(problem.succ_ptr[i], problem.succ_ptr[i + 1]):
            p = problem.succs[e]
            ws.indegree[p] -= 1
            if ws.indegree[p] == 0:
                ws.queue[t] = p
                t += 1
        mp = sched.machine_next[i]
        if mp >= 0:
            ws.indegree[mp] -= 1
            if ws.indegree[mp] == 0:
                ws.queue[t] = mp
                t += 1
    ws.topo_count = t
    return 0 if t == n else -1


cdef int evaluate_from(Problem *problem, Schedule *sched, Workspace *ws, i64 *st, i64 *en, int a,
                       int b) noexcept nogil:
    """Re-decode only the descendants of a and b, the operations whose machine predecessor or
    duration a move changed; every other start in ``st`` stays valid. -1 on a cycle."""
    cdef int top = 0, cnt = 0, i, e, p, h = 0, t = 0, k, mp
    cdef i64 s, x, f
    if problem.operator_count:
        # Operators are taken in decoding order: a partial decode would keep stale ones.
        return evaluate(problem, sched, ws, st, en)
    ws.stamp += 1
    if a >= 0:
        ws.mark[a] = ws.stamp
        ws.stack[top] = a
        top += 1
    if b >= 0 and b != a:
        ws.mark[b] = ws.stamp
        ws.stack[top] = b
        top += 1
    while top > 0:
        top -= 1
        i = ws.stack[top]
        ws.segment_ops[cnt] = i
        cnt += 1
        for e in range(problem.succ_ptr[i], problem.succ_ptr[i + 1]):
            p = problem.succs[e]
            if ws.mark[p] != ws.stamp:
                ws.mark[p] = ws.stamp
                ws.stack[top] = p
                top += 1
        p = sched.machine_next[i]
        if p >= 0 and ws.mark[p] != ws.stamp:
            ws.mark[p] = ws.stamp
            ws.stack[top] = p
            top += 1
    for e in range(cnt):
        i = ws.segment_ops[e]
        ws.indegree[i] = 0
        for k in range(problem.pred_ptr[i], problem.pred_ptr[i + 1]):
            if ws.mark[problem.preds[k]] == ws.stamp:
                ws.indegree[i] += 1
        if sched.machine_prev[i] >= 0 and ws.mark[sched.machine_prev[i]] == ws.stamp:
            ws.indegree[i] += 1
        if ws.indegree[i] == 0:
            ws.stack[t] = i
            t += 1
    while h < t:
        i = ws.stack[h]
        h += 1
        k = sched.machine[i]
        s = problem.release[i]
        for e in range(problem.pred_ptr[i], problem.pred_ptr[i + 1]):
            p = problem.preds[e]
            x = en[p] + transport_time(problem, sched.machine[p], k)
            if x > s:
                s = x
        mp = sched.machine_prev[i]
        if mp >= 0 and en[mp] > s:
            s = en[mp]
        if problem.has_calendars:
            s = decode_fit(problem, sched, en, k, i, s, &f)
        else:
            f = s + work_with_setup(problem, sched, i)
        st[i] = s
        en[i] = f
        for e in range(problem.succ_ptr[i], problem.succ_ptr[i + 1]):
            p = problem.succs[e]
            ws.indegree[p] -= 1
            if ws.indegree[p] == 0:
                ws.stack[t] = p
                t += 1
        mp = sched.machine_next[i]
        if mp >= 0 and ws.mark[mp] == ws.stamp:
            ws.indegree[mp] -= 1
            if ws.indegree[mp] == 0:
                ws.stack[t] = mp
                t += 1
    return 0 if t == cnt else -1


cdef void score(Problem *problem, Schedule *sched, Workspace *ws, i64 *st, i64 *en) noexcept nogil:
    """Makespan, total weighted tardiness and moved operations of the decoded schedule ``st``,
    and the search's rank.

    With calendars and non-resumable work the makespan moves in steps (an operation that misses
    an open period by one unit waits for the next), so most moves tie and the search walks a
    plateau blind. The tie-break, the mean end of all operations over the makespan + 1 (below
    one unit, so it never outweighs the makespan), rewards every move that brings work earlier
    until something fits before a closed period. On the Taillard calendar variants it took the
    mean gap at a fixed iteration count from 2.4 % to under 1 %."""
    cdef int i, j
    cdef i64 e, mk = 0, shift
    cdef double tard = 0, total = 0
    cdef int moved = 0
    for j in range(problem.job_count):
        ws.job_end[j] = 0
    for i in range(problem.operation_count):
        e = en[i]
        if e > mk:
            mk = e
        if e > ws.job_end[problem.job_of[i]]:
            ws.job_end[problem.job_of[i]] = e
    for j in range(problem.job_count):
        if problem.due[j] >= 0 and ws.job_end[j] > problem.due[j]:
            tard += problem.weight[j] * (ws.job_end[j] - problem.due[j])
    if problem.reference_machine != NULL:
        for i in range(problem.operation_count):
            if problem.frozen_machine[i] >= 0 or problem.reference_machine[i] < 0:
                continue
            shift = st[i] - problem.reference_start[i]
            if sched.machine[i] != problem.reference_machine[i] or shift > problem.tolerance \
                    or -shift > problem.tolerance:
                moved += 1
    sched.makespan = mk
    sched.tardiness = tard
    sched.moved = moved
    sched.objective = problem.weight_makespan * mk + problem.weight_tardiness * tard \
        + problem.weight_stability * moved
    sched.rank = sched.objective
    if problem.tie_break:
        for i in range(problem.operation_count):
            total += en[i]
        sched.rank += total / (<double>problem.operation_count * (mk + 1))


cdef void tails(Problem *problem, Schedule *sched, Workspace *ws) noexcept nogil:
    """Longest path from the end of each operation to the sink (ignoring calendars; setups
    count on the machine arcs: a successor's setup after its machine predecessor)."""
    cdef int idx, i, e, s, k, mn
    cdef i64 q, a
    for idx in range(ws.topo_count - 1, -1, -1):
        i = ws.queue[idx]
        k = sched.machine[i]
        q = 0
        for e in range(problem.succ_ptr[i], problem.succ_ptr[i + 1]):
            s = problem.succs[e]
            a = transport_time(problem, k, sched.machine[s]) \
                + work_with_setup(problem, sched, s) + ws.tail[s]
            if a > q:
                q = a
        ws.job_tail[i] = q
        mn = sched.machine_next[i]
        if mn >= 0 and work_with_setup(problem, sched, mn) + ws.tail[mn] > q:
            q = work_with_setup(problem, sched, mn) + ws.tail[mn]
        ws.tail[i] = q


# ---------------------------------------------------------------- solution editing

cdef void relocate(Schedule *sched, int u, int k, int after, i64 d) noexcept nogil:
    """Move operation u to machine k right after ``after`` (-1: at the front)."""
    unlink(sched, u)
    link(sched, u, k, after, d)


cdef void unlink(Schedule *sched, int u) noexcept nogil:
    """Take u out of its machine's list (it floats: no machine predecessor or successor)."""
    cdef int a = sched.machine_prev[u], b = sched.machine_next[u], k0 = sched.machine[u]
    if a >= 0:
        sched.machine_next[a] = b
    else:
        sched.machine_first[k0] = b
    if b >= 0:
        sched.machine_prev[b] = a
    else:
        sched.machine_last[k0] = a
    sched.machine_prev[u] = -1
    sched.machine_next[u] = -1


cdef void link(Schedule *sched, int u, int k, int after, i64 d) noexcept nogil:
    """Put the floating operation u on machine k right after ``after`` (-1: at the front)."""
    cdef int b
    if after >= 0:
        b = sched.machine_next[after]
        sched.machine_next[after] = u
    else:
        b = sched.machine_first[k]
        sched.machine_first[k] = u
    sched.machine_prev[u] = after
    sched.machine_next[u] = b
    if b >= 0:
        sched.machine_prev[b] = u
    else:
        sched.machine_last[k] = u
    sched.machine[u] = k
    sched.duration[u] = d


cdef void copy_schedule(Problem *problem, Schedule *dst, Schedule *src) noexcept nogil:
    memcpy(dst.machine, src.machine, problem.operation_count * sizeof(int))
    memcpy(dst.duration, src.duration, problem.operation_count * sizeof(i64))
    memcpy(dst.machine_prev, src.machine_prev, problem.operation_count * sizeof(int))
    memcpy(dst.machine_next, src.machine_next, problem.operation_count * sizeof(int))
    memcpy(dst.start, src.start, problem.operation_count * sizeof(i64))
    memcpy(dst.end, src.end, problem.operation_count * sizeof(i64))
    memcpy(dst.operator_of, src.operator_of, problem.operation_count * sizeof(int))
    memcpy(dst.machine_first, src.machine_first, problem.machine_count * sizeof(int))
    memcpy(dst.machine_last, src.machine_last, problem.machine_count * sizeof(int))
    dst.makespan = src.makespan
    dst.tardiness = src.tardiness
    dst.moved = src.moved
    dst.objective = src.objective
    dst.rank = src.rank


cdef void carve_schedule(Problem *problem, Schedule *sched, Arena *arena) noexcept nogil:
    cdef int n = problem.operation_count + 1, m = problem.machine_count + 1
    sched.machine = <int *>carve(arena, n, sizeof(int))
    sched.duration = <i64 *>carve(arena, n, sizeof(i64))
    sched.machine_prev = <int *>carve(arena, n, sizeof(int))
    sched.machine_next = <int *>carve(arena, n, sizeof(int))
    sched.start = <i64 *>carve(arena, n, sizeof(i64))
    sched.end = <i64 *>carve(arena, n, sizeof(i64))
    sched.operator_of = <int *>carve(arena, n, sizeof(int))
    sched.machine_first = <int *>carve(arena, m, sizeof(int))
    sched.machine_last = <int *>carve(arena, m, sizeof(int))


# ---------------------------------------------------------------- constructive schedule

cdef inline i64 occupied_fit(Problem *problem, Workspace *ws, int k, int i, i64 t, i64 d,
                             i64 *end) noexcept nogil:
    """Earliest start >= t of operation i in machine k's calendar, in a gap of its occupied
    intervals (blocked ones and operations placed so far)."""
    return fit(problem, k, i, t, d, ws.occupied_start, ws.occupied_end, ws.occupied_ptr[k],
               ws.occupied_ptr[k] + ws.occupied_count[k], end)


cdef void occupy(Workspace *ws, int k, i64 s, i64 e, int op) noexcept nogil:
    """Keep machine k's intervals ordered by start, then end: a zero-length operation at the
    start of another interval goes before it, so that the ends stay ordered too (``fit``
    searches them); after it, the search skipped the interval and placed work inside it."""
    cdef int base = ws.occupied_ptr[k], pos = base + ws.occupied_count[k]
    while pos > base and (ws.occupied_start[pos - 1] > s or (
            ws.occupied_start[pos - 1] == s and ws.occupied_end[pos - 1] > e)):
        ws.occupied_start[pos] = ws.occupied_start[pos - 1]
        ws.occupied_end[pos] = ws.occupied_end[pos - 1]
        ws.occupied_op[pos] = ws.occupied_op[pos - 1]
        pos -= 1
    ws.occupied_start[pos] = s
    ws.occupied_end[pos] = e
    ws.occupied_op[pos] = op
    ws.occupied_count[k] += 1


cdef i64 span_on(Problem *problem, Schedule *sched, Workspace *ws, int i, int k, i64 d,
                 i64 since, i64 *span_end) noexcept nogil:
    """Start of operation i (work d) on machine k, inserted in a gap of its calendar (with
    setups: after the last operation placed there, since the setup depends on that one), and
    not before ``since`` (NEG: any); the span's end goes to ``span_end``. Operators aside."""
    cdef int f, p, mp
    cdef i64 t = problem.release[i], a
    for f in range(problem.pred_ptr[i], problem.pred_ptr[i + 1]):
        p = problem.preds[f]
        a = sched.end[p] + transport_time(problem, sched.machine[p], k)
        if a > t:
            t = a
    if since > t:
        t = since
    if problem.has_setups or problem.operator_count or ws.append:
        mp = ws.last_op[k]
        if mp >= 0 and sched.end[mp] > t:
            t = sched.end[mp]
        mp = ws.last_setup_op[k]
        return place(problem, k, i, mp, sched.end[mp] if mp >= 0 else NEG, t, d,
                     ws.occupied_start, ws.occupied_end,
                     ws.occupied_ptr[k], ws.occupied_ptr[k] + ws.occupied_count[k], span_end)
    return occupied_fit(problem, ws, k, i, t, d, span_end)


cdef void look(Problem *problem, Schedule *sched, Workspace *ws, int i, int e) noexcept nogil:
    """Operation i's span on its option e, searched from the start it found there last:
    without setups, placing operations only takes room, so no earlier start has opened."""
    cdef int k = problem.opt_machine[e]
    cdef i64 since = ws.option_start[e] if ws.option_placed[e] >= 0 else NEG
    ws.option_start[e] = span_on(problem, sched, ws, i, k, problem.opt_duration[e], since,
                                 &ws.option_end[e])
    ws.option_placed[e] = ws.machine_placed[k]


cdef inline bint option_before(Problem *problem, Workspace *ws, int a, int b) noexcept nogil:
    """Option a's span ends first (on a tie, the shorter work, then the first listed)."""
    if ws.option_end[a] != ws.option_end[b]:
        return ws.option_end[a] < ws.option_end[b]
    if problem.opt_duration[a] != problem.opt_duration[b]:
        return problem.opt_duration[a] < problem.opt_duration[b]
    return a < b


cdef void option_sift(Problem *problem, Workspace *ws, int base, int size, int c) noexcept nogil:
    """Sift the option at position c of the heap ``option_heap[base:base + size]`` down."""
    cdef int l, m, x
    while True:
        l = 2 * c + 1
        if l >= size:
            return
        m = l
        if l + 1 < size and option_before(problem, ws, ws.option_heap[base + l + 1],
                                          ws.option_heap[base + l]):
            m = l + 1
        if not option_before(problem, ws, ws.option_heap[base + m], ws.option_heap[base + c]):
            return
        x = ws.option_heap[base + m]
        ws.option_heap[base + m] = ws.option_heap[base + c]
        ws.option_heap[base + c] = x
        c = m


cdef int earliest_option(Problem *problem, Schedule *sched, Workspace *ws, int i) noexcept nogil:
    """The option giving operation i its earliest end, when no setups are planned and no
    operator attends it: a heap of its options by the spans found there so far. Placing operations only takes room, so a
    span not looked at since its machine changed can only be later than it says: looking
    again at the top until it is up to date gives the earliest of all."""
    cdef int base = problem.opt_ptr[i], size = problem.opt_ptr[i + 1] - base, c, e
    if ws.option_placed[base] < 0:
        for c in range(size):
            look(problem, sched, ws, i, base + c)
            ws.option_heap[base + c] = base + c
        for c in range(size // 2 - 1, -1, -1):
            option_sift(problem, ws, base, size, c)
        return ws.option_heap[base]
    while True:
        e = ws.option_heap[base]
        if ws.option_placed[e] == ws.machine_placed[problem.opt_machine[e]]:
            return e
        look(problem, sched, ws, i, e)
        option_sift(problem, ws, base, size, 0)


cdef void best_option(Problem *problem, Schedule *sched, Workspace *ws, int i) noexcept nogil:
    """Machine giving operation i its earliest end (``span_on``). A span found on a machine
    where nothing was placed since is still right (a ready operation's predecessors are all
    placed); an operator's is looked for again (one may be taken on any machine). With
    setups a placement may also shorten a span (a change-over from a closer family), so
    every machine that changed is looked at again, from scratch."""
    cdef int e, k, mp, best_machine = -1, best_operator = -1
    cdef i64 s, d, span_end, best_end = 0, best_start = 0, best_duration = 0
    cdef i64 best_operator_end = 0
    cdef bint staffed = problem.operator_count and problem.skill[i] >= 0
    if not staffed and not problem.has_setups:
        e = earliest_option(problem, sched, ws, i)
        ws.choice_machine[i] = problem.opt_machine[e]
        ws.choice_start[i] = ws.option_start[e]
        ws.choice_end[i] = ws.option_end[e]
        ws.choice_operator[i] = -1
        ws.choice_operator_end[i] = 0
        ws.choice_stale[i] = 0
        return
    for e in range(problem.opt_ptr[i], problem.opt_ptr[i + 1]):
        k = problem.opt_machine[e]
        d = problem.opt_duration[e]
        if staffed:
            s = span_on(problem, sched, ws, i, k, d, NEG, &span_end)
            mp = ws.last_setup_op[k]
            s = attend(problem, ws, k, i, d, mp, sched.end[mp] if mp >= 0 else NEG, s, &span_end,
                       1, 0)
        elif ws.option_placed[e] == ws.machine_placed[k]:
            s, span_end = ws.option_start[e], ws.option_end[e]
        else:
            s = span_on(problem, sched, ws, i, k, d, NEG, &span_end)
            ws.option_placed[e] = ws.machine_placed[k]
            ws.option_start[e], ws.option_end[e] = s, span_end
        if best_machine < 0 or span_end < best_end or (
                span_end == best_end and d < best_duration):
            best_machine, best_start, best_end, best_duration = k, s, span_end, d
            if staffed:
                best_operator, best_operator_end = ws.choice_operator[i], ws.choice_operator_end[i]
    ws.choice_machine[i] = best_machine
    ws.choice_start[i] = best_start
    ws.choice_end[i] = best_end
    ws.choice_operator[i] = best_operator
    ws.choice_operator_end[i] = best_operator_end
    ws.choice_stale[i] = 0


cdef i64 duration_on(Problem *problem, int i, int k) noexcept nogil:
    cdef int e
    for e in range(problem.opt_ptr[i], problem.opt_ptr[i + 1]):
        if problem.opt_machine[e] == k:
            return problem.opt_duration[e]
    return -1


cdef void construct(Problem *problem, Schedule *sched, Workspace *ws, double *prio) noexcept nogil:
    """Giffler-Thompson style list scheduling with insertion into machine gaps: among ready
    operations that could start before the earliest possible end, take the highest priority
    (without priorities, ``prio`` NULL: the one that ends first, a plain dispatch rule)."""
    cdef int n = problem.operation_count, i, j, e, k, p, r, nready = 0, pick, step, nfree = 0
    cdef i64 cstar
    for k in range(problem.operator_count):
        ws.attended_count[k] = 0
    for k in range(problem.machine_count):
        ws.occupied_count[k] = 0
        ws.last_op[k] = -1
        ws.last_setup_op[k] = -1
        ws.machine_placed[k] = 0
        for e in range(problem.blocked_ptr[k], problem.blocked_ptr[k + 1]):
            occupy(ws, k, problem.blocked_start[e], problem.blocked_end[e], -1)
    for e in range(problem.opt_ptr[n]):
        ws.option_placed[e] = -1
    for i in range(n):
        ws.preds_left[i] = problem.pred_ptr[i + 1] - problem.pred_ptr[i]
    for i in range(n):
        if problem.frozen_machine[i] >= 0:
            sched.machine[i] = problem.frozen_machine[i]
            sched.duration[i] = duration_on(problem, i, problem.frozen_machine[i])
            sched.start[i] = problem.frozen_start[i]
            sched.end[i] = problem.frozen_start[i] + sched.duration[i]
            ws.decode_key[i] = -1.0
            for e in range(problem.succ_ptr[i], problem.succ_ptr[i + 1]):
                ws.preds_left[problem.succs[e]] -= 1
        else:
            nfree += 1
    for i in range(n):
        if problem.frozen_machine[i] < 0 and ws.preds_left[i] == 0:
            ws.ready[nready] = i
            nready += 1
            ws.choice_stale[i] = 1
    for step in range(nfree):
        cstar = NEG
        for r in range(nready):
            i = ws.ready[r]
            if ws.choice_stale[i]:
                best_option(problem, sched, ws, i)
            if cstar == NEG or ws.choice_end[i] < cstar:
                cstar = ws.choice_end[i]
        pick = -1
        for r in range(nready):
            i = ws.ready[r]
            if prio == NULL:
                # Ties: the first ready one; appending, the first in job order.
                if ws.choice_end[i] == cstar and (pick < 0 or (ws.append and i < ws.ready[pick])):
                    pick = r
                    if not ws.append:
                        break
            elif (ws.choice_start[i] < cstar or ws.choice_end[i] <= cstar) and (
                    pick < 0 or prio[i] > prio[ws.ready[pick]]):
                pick = r
        i = ws.ready[pick]
        nready -= 1
        ws.ready[pick] = ws.ready[nready]
        k = ws.choice_machine[i]
        sched.machine[i] = k
        sched.duration[i] = duration_on(problem, i, k)
        sched.start[i] = ws.choice_start[i]
        sched.end[i] = ws.choice_end[i]
        occupy(ws, k, ws.choice_start[i], ws.choice_end[i], i)
        ws.machine_placed[k] += 1
        ws.decode_key[i] = step
        if ws.choice_operator[i] >= 0:
            operator_take(ws, ws.choice_operator[i], ws.choice_start[i], ws.choice_operator_end[i])
            # The operator is taken: every ready operation that needs one looks again.
            for r in range(nready):
                if problem.skill[ws.ready[r]] >= 0:
                    ws.choice_stale[ws.ready[r]] = 1
        ws.last_op[k] = i
        if sched.duration[i] > 0:
            ws.last_setup_op[k] = i
        # Occupying k only makes k worse: the other ready operations keep their best machine
        # unless it was k. With setups it can make k better (after an operation of no family
        # or a cheaper one the next change-over is shorter), so all of them look again.
        for r in range(nready):
            j = ws.ready[r]
            if ws.choice_machine[j] == k or problem.has_setups:
                ws.choice_stale[j] = 1
        for e in range(problem.succ_ptr[i], problem.succ_ptr[i + 1]):
            p = problem.succs[e]
            ws.preds_left[p] -= 1
            if ws.preds_left[p] == 0:
                ws.ready[nready] = p
                nready += 1
                ws.choice_stale[p] = 1
    link_from_occupancy(problem, sched, ws)


cdef void link_from_occupancy(Problem *problem, Schedule *sched, Workspace *ws) noexcept nogil:
    cdef int k, e, i, last
    for i in range(problem.operation_count):
        sched.machine_prev[i] = -1
        sched.machine_next[i] = -1
    for k in range(problem.machine_count):
        last = -1
        sched.machine_first[k] = -1
        for e in range(ws.occupied_ptr[k], ws.occupied_ptr[k] + ws.occupied_count[k]):
            i = ws.occupied_op[e]
            if i < 0 or problem.frozen_machine[i] >= 0:
                continue
            if last >= 0:
                sched.machine_next[last] = i
            else:
                sched.machine_first[k] = i
            sched.machine_prev[i] = last
            last = i
        sched.machine_last[k] = last


# ---------------------------------------------------------------- warm start (re-planning)

cdef int warm_start(Problem *problem, Schedule *sched, Workspace *ws) noexcept nogil:
    """Repair the previous plan instead of planning again: every operation whose previous machine
    and start are still possible keeps its machine and its order there; the others (on a machine
    gone down, or new) are inserted one by one where the objective, stability included, suffers
    least. Returns -1 if the previous orders conflict with the precedences (then plan afresh)."""
    cdef int i, k, r, nfloat = 0
    cdef i64 d, f
    for k in range(problem.machine_count):
        ws.occupied_count[k] = 0
    for i in range(problem.operation_count):
        sched.machine_prev[i] = -1
        sched.machine_next[i] = -1
        if problem.frozen_machine[i] >= 0:
            sched.machine[i] = problem.frozen_machine[i]
            sched.duration[i] = duration_on(problem, i, problem.frozen_machine[i])
            continue
        k = problem.reference_machine[i]
        d = duration_on(problem, i, k) if k >= 0 else -1
        f = problem.reference_start[i] + d
        if d >= 0 and (not problem.has_calendars or calendar_fit(
                problem, k, i, problem.reference_start[i], d, &f) == problem.reference_start[i]):
            sched.machine[i] = k
            sched.duration[i] = d
            occupy(ws, k, problem.reference_start[i], f, i)
        else:
            shortest_option(problem, sched, i)
            ws.priority[i] = <double>(problem.reference_start[i] if k >= 0 else problem.release[i])
            ws.ready[nfloat] = i
            nfloat += 1
    link_from_occupancy(problem, sched, ws)
    for i in range(problem.operation_count):
        ws.decode_key[i] = <double>(problem.reference_start[i]
                                    if problem.reference_machine[i] >= 0 else problem.release[i])
    if evaluate(problem, sched, ws, sched.start, sched.end) != 0:
        return -1
    sort_by_prio(ws, nfloat)
    for r in range(nfloat):
        if reinsert(problem, sched, ws, ws.ready[r]) != 0:
            return -1
    score(problem, sched, ws, sched.start, sched.end)
    return 0


cdef void shortest_option(Problem *problem, Schedule *sched, int i) noexcept nogil:
    cdef int e, best = problem.opt_ptr[i]
    for e in range(problem.opt_ptr[i], problem.opt_ptr[i + 1]):
        if problem.opt_duration[e] < problem.opt_duration[best]:
            best = e
    sched.machine[i] = problem.opt_machine[best]
    sched.duration[i] = problem.opt_duration[best]


cdef void sort_by_prio(Workspace *ws, int count) noexcept nogil:
    """Insertion sort of ws.ready[:count] by ws.priority (few operations: the displaced ones)."""
    cdef int r, q, i
    for r in range(1, count):
        i = ws.ready[r]
        q = r
        while q > 0 and ws.priority[ws.ready[q - 1]] > ws.priority[i]:
            ws.ready[q] = ws.ready[q - 1]
            q -= 1
        ws.ready[q] = i


cdef void mark_descendants(Problem *problem, Schedule *sched, Workspace *ws, int v) noexcept nogil:
    cdef int top = 1, i, e, p
    ws.stamp += 1
    ws.mark[v] = ws.stamp
    ws.stack[0] = v
    while top > 0:
        top -= 1
        i = ws.stack[top]
        for e in range(problem.succ_ptr[i], problem.succ_ptr[i + 1]):
            p = problem.succs[e]
            if ws.mark[p] != ws.stamp:
                ws.mark[p] = ws.stamp
                ws.stack[top] = p
                top += 1
        p = sched.machine_next[i]
        if p >= 0 and ws.mark[p] != ws.stamp:
            ws.mark[p] = ws.stamp
            ws.stack[top] = p
            top += 1


cdef int reinsert(Problem *problem, Schedule *sched, Workspace *ws, int v) noexcept nogil:
    """Insert the floating operation v at the best of: the positions around its earliest start on
    each eligible machine (as in ``reassign_moves``), the next few later gaps where it fits
    without pushing anything, and the end of each machine's list."""
    cdef int e, f, k, x, y, c, gaps, pick = -1
    cdef i64 d, ra, vs = sched.start[v], ve = sched.end[v]
    mark_descendants(problem, sched, ws, v)
    ws.move_count = 0
    for e in range(problem.opt_ptr[v], problem.opt_ptr[v + 1]):
        k = problem.opt_machine[e]
        d = problem.opt_duration[e]
        x = -1
        y = sched.machine_first[k]
        while x < 0 or sched.start[x] < ve:
            if y < 0 or sched.end[y] > vs:
                add_move(ws, v, k, x, 0, d, 0.0)
            if y < 0:
                break
            x = y
            y = sched.machine_next[y]
        ra = problem.release[v]
        for f in range(problem.pred_ptr[v], problem.pred_ptr[v + 1]):
            ra = max(ra, sched.end[problem.preds[f]]
                     + transport_time(problem, sched.machine[problem.preds[f]], k))
        # Operations after a non-descendant x are never ancestors of v here (they start after
        # v's window), so any later position before the first descendant is safe.
        gaps = 0
        while y >= 0 and gaps < 4 and ws.mark[x] != ws.stamp:
            if max(ra, sched.end[x]) + d <= sched.start[y]:
                add_move(ws, v, k, x, 0, d, 0.0)
                gaps += 1
            x = y
            y = sched.machine_next[y]
        if y >= 0 and sched.machine_last[k] >= 0 and ws.mark[sched.machine_last[k]] != ws.stamp:
            add_move(ws, v, k, sched.machine_last[k], 0, d, 0.0)
    for c in range(ws.move_count):
        link(sched, v, ws.moves[c].machine, ws.moves[c].after, ws.moves[c].duration)
        memcpy(ws.trial_start, sched.start, problem.operation_count * sizeof(i64))
        memcpy(ws.trial_end, sched.end, problem.operation_count * sizeof(i64))
        if evaluate_from(problem, sched, ws, ws.trial_start, ws.trial_end, v, -1) == 0:
            score(problem, sched, ws, ws.trial_start, ws.trial_end)
            ws.moves[c].value = sched.objective
            if pick < 0 or sched.objective < ws.moves[pick].value:
                pick = c
        unlink(sched, v)
    if pick < 0:
        return -1
    link(sched, v, ws.moves[pick].machine, ws.moves[pick].after, ws.moves[pick].duration)
    return evaluate_from(problem, sched, ws, sched.start, sched.end, v, -1)


# ---------------------------------------------------------------- neighbourhood

cdef int pick_end(Problem *problem, Schedule *sched, Workspace *ws, int job) noexcept nogil:
    """Operation ending last (in ``job``, or overall when job < 0); random among ties."""
    cdef int i, best = -1, ties = 0
    cdef i64 e, be = NEG
    for i in range(problem.operation_count):
        if job >= 0 and problem.job_of[i] != job:
            continue
        e = sched.end[i]
        if e > be:
            be, best, ties = e, i, 1
        elif e == be:
            ties += 1
            if random_below(ws, ties) == 0:
                best = i
    return best


cdef int critical_path(Problem *problem, Schedule *sched, Workspace *ws, int endop,
                       int *path) noexcept nogil:
    """Trace back from endop along the arcs that determine each start (machine arc on ties)."""
    cdef int cnt = 0, i = endop, best, e, p, lo, hi
    cdef i64 arr, a
    while i >= 0 and problem.frozen_machine[i] < 0:
        path[cnt] = i
        cnt += 1
        best = -1
        arr = NEG
        p = sched.machine_prev[i]
        if p >= 0:
            best, arr = p, sched.end[p]
        for e in range(problem.pred_ptr[i], problem.pred_ptr[i + 1]):
            p = problem.preds[e]
            a = sched.end[p] + transport_time(problem, sched.machine[p], sched.machine[i])
            if a > arr:
                best, arr = p, a
        if best >= 0 and arr < problem.release[i]:
            best = -1
        i = best
    lo, hi = 0, cnt - 1
    while lo < hi:
        path[lo], path[hi] = path[hi], path[lo]
        lo += 1
        hi -= 1
    return cnt


cdef void add_move(Workspace *ws, int u, int k, int after, int right, i64 d,
                   double val) noexcept nogil:
    if ws.move_count >= ws.move_capacity:
        return
    ws.moves[ws.move_count].op = u
    ws.moves[ws.move_count].machine = k
    ws.moves[ws.move_count].after = after
    ws.moves[ws.move_count].right = right
    ws.moves[ws.move_count].duration = d
    ws.moves[ws.move_count].value = val
    ws.move_count += 1


cdef int segment(Schedule *sched, int u, int after, int right, int *seg) noexcept nogil:
    """Operations of the machine segment a same-machine move reorders, in their new order."""
    cdef int L = 0, o
    if right:
        o = sched.machine_next[u]
        while True:
            seg[L] = o
            L += 1
            if o == after:
                break
            o = sched.machine_next[o]
        seg[L] = u
        return L + 1
    seg[0] = u
    L = 1
    o = sched.machine_next[after] if after >= 0 else sched.machine_first[sched.machine[u]]
    while o != u:
        seg[L] = o
        L += 1
        o = sched.machine_next[o]
    return L


cdef double estimate_seq(Problem *problem, Schedule *sched, Workspace *ws, int u, int after,
                         int right) noexcept nogil:
    """Longest path through the reordered segment, from the unchanged heads and tails around it.
    The segment's starts and ends follow the machine's calendar and blocked intervals; the tails
    after it use work durations. Setups follow the new order."""
    cdef int L = segment(sched, u, after, right, ws.segment_ops), t, o, first, lastold, mp, mn, prev
    cdef int k = sched.machine[u]
    cdef i64 prev_end = 0, h, q, nxt = 0, best = 0, d
    first = u if right else ws.segment_ops[1]
    lastold = after if right else u
    mp = sched.machine_prev[first]
    if mp >= 0:
        prev_end = sched.end[mp]
    prev = mp
    for t in range(L):
        o = ws.segment_ops[t]
        h = ws.job_arrival[o]
        if prev_end > h:
            h = prev_end
        d = sched.duration[o] + setup_before(problem, sched, k, prev, o)
        if problem.has_calendars:
            calendar_fit(problem, k, o, h, d, &prev_end)
        else:
            prev_end = h + d
        ws.segment_end[t] = prev_end
        prev = o
    mn = sched.machine_next[lastold]
    if mn >= 0:
        nxt = sched.duration[mn] + setup_before(problem, sched, k, ws.segment_ops[L - 1], mn) \
            + ws.tail[mn]
    for t in range(L - 1, -1, -1):
        o = ws.segment_ops[t]
        q = ws.job_tail[o]
        if nxt > q:
            q = nxt
        if ws.segment_end[t] + q > best:
            best = ws.segment_end[t] + q
        nxt = sched.duration[o] \
            + setup_before(problem, sched, k, ws.segment_ops[t - 1] if t > 0 else mp, o) + q
    return <double>best


cdef void add_seq_move(Problem *problem, Schedule *sched, Workspace *ws, int u, int after,
                       int right, int estimate) noexcept nogil:
    if after == u or after == sched.machine_prev[u]:
        return
    add_move(ws, u, sched.machine[u], after, right, sched.duration[u],
             estimate_seq(problem, sched, ws, u, after, right) if estimate else 0.0)


cdef void block_moves(Problem *problem, Schedule *sched, Workspace *ws, int *B, int L,
                      int first_block, int last_block, int estimate) noexcept nogil:
    """N5 swaps at the block ends, plus N7 moves of inner operations to the block's ends."""
    cdef int j, before = sched.machine_prev[B[0]]
    if not first_block:
        add_seq_move(problem, sched, ws, B[0], B[1], 1, estimate)
    if not last_block and (L > 2 or first_block):
        add_seq_move(problem, sched, ws, B[L - 1], sched.machine_prev[B[L - 2]], 0, estimate)
    if problem.has_setups:
        # With setups, swapping two inner operations of a block can shorten it (a cheaper
        # change-over): the N5 argument that only the ends matter no longer holds.
        for j in range(1, L - 2):
            add_seq_move(problem, sched, ws, B[j], B[j + 1], 1, estimate)
    if L < 3:
        return
    for j in range(1, L - 1):
        add_seq_move(problem, sched, ws, B[j], before, 0, estimate)
        add_seq_move(problem, sched, ws, B[j], B[L - 1], 1, estimate)
    add_seq_move(problem, sched, ws, B[0], B[L - 1], 1, estimate)
    add_seq_move(problem, sched, ws, B[L - 1], before, 0, estimate)


cdef void reassign_moves(Problem *problem, Schedule *sched, Workspace *ws, int v,
                         int estimate) noexcept nogil:
    """Insert v on another eligible machine between x and y, where x cannot be a descendant of v
    (starts before v ends) and y cannot be an ancestor (ends after v starts): never a cycle."""
    cdef int e, f, k, p, x, y
    cdef i64 d, ra, qa, a, r, q, fin, vs = sched.start[v], ve = sched.end[v]
    for e in range(problem.opt_ptr[v], problem.opt_ptr[v + 1]):
        k = problem.opt_machine[e]
        if k == sched.machine[v]:
            continue
        d = problem.opt_duration[e]
        ra = problem.release[v]
        for f in range(problem.pred_ptr[v], problem.pred_ptr[v + 1]):
            p = problem.preds[f]
            a = sched.end[p] + transport_time(problem, sched.machine[p], k)
            if a > ra:
                ra = a
        qa = 0
        if estimate:
            for f in range(problem.succ_ptr[v], problem.succ_ptr[v + 1]):
                p = problem.succs[f]
                a = transport_time(problem, k, sched.machine[p]) \
                    + work_with_setup(problem, sched, p) + ws.tail[p]
                if a > qa:
                    qa = a
        x = -1
        y = sched.machine_first[k]
        while x < 0 or sched.start[x] < ve:
            if y < 0 or sched.end[y] > vs:
                r = ra
                if x >= 0 and sched.end[x] > r:
                    r = sched.end[x]
                q = qa
                if y >= 0 and sched.duration[y] + setup_before(problem, sched, k, v, y) \
                        + ws.tail[y] > q:
                    q = sched.duration[y] + setup_before(problem, sched, k, v, y) + ws.tail[y]
                fin = r + d + setup_before(problem, sched, k, x, v)
                if estimate and problem.has_calendars:
                    calendar_fit(problem, k, v, r, d + setup_before(problem, sched, k, x, v), &fin)
                add_move(ws, v, k, x, 0, d, <double>(fin + q) if estimate else 0.0)
            if y < 0:
                break
            x = y
            y = sched.machine_next[y]


cdef void path_moves(Problem *problem, Schedule *sched, Workspace *ws, int endop,
                     int estimate) noexcept nogil:
    cdef int cnt = critical_path(problem, sched, ws, endop, ws.path), t = 0, b
    while t < cnt:
        b = t
        while t + 1 < cnt and ws.path[t + 1] == sched.machine_next[ws.path[t]]:
            t += 1
        if t > b:
            block_moves(problem, sched, ws, ws.path + b, t - b + 1, b == 0, t == cnt - 1, estimate)
        t += 1
    for t in range(cnt):
        if problem.opt_ptr[ws.path[t] + 1] - problem.opt_ptr[ws.path[t]] > 1:
            reassign_moves(problem, sched, ws, ws.path[t], estimate)


cdef int tardy_job(Problem *problem, Schedule *sched, Workspace *ws) noexcept nogil:
    """A random tardy job, drawn with probability proportional to its weighted tardiness."""
    cdef int j, pick = -1
    cdef double total = 0, w, x
    for j in range(problem.job_count):
        if problem.due[j] >= 0 and ws.job_end[j] > problem.due[j]:
            w = problem.weight[j] * (ws.job_end[j] - problem.due[j])
            if w > 0:
                total += w
                x = (random_u64(ws) >> 11) * (1.0 / 9007199254740992.0)
                if x * total < w:
                    pick = j
    return pick


cdef void neighbourhood(Problem *problem, Schedule *sched, Workspace *ws,
                        int estimate) noexcept nogil:
    cdef int j
    ws.move_count = 0
    if problem.weight_makespan > 0 or problem.weight_stability > 0:
        path_moves(problem, sched, ws, pick_end(problem, sched, ws, -1), estimate)
    if problem.weight_tardiness > 0:
        score(problem, sched, ws, sched.start, sched.end)
        j = tardy_job(problem, sched, ws)
        if j >= 0:
            path_moves(problem, sched, ws, pick_end(problem, sched, ws, j), estimate)


# ---------------------------------------------------------------- tabu list

cdef inline int tabu_slot(u64 key) noexcept nogil:
    return <int>((key * 0x9E3779B97F4A7C15ULL) >> (64 - TABU_BITS))


cdef inline void tabu_set(Workspace *ws, u64 key, i64 until) noexcept nogil:
    cdef int s = tabu_slot(key)
    ws.tabu_key[s] = key
    ws.tabu_until[s] = until


cdef inline int tabu_has(Workspace *ws, u64 key, i64 it) noexcept nogil:
    cdef int s = tabu_slot(key)
    return ws.tabu_key[s] == key and ws.tabu_until[s] > it


cdef inline u64 order_key(Problem *problem, int a, int b) noexcept nogil:
    return (<u64>a * <u64>problem.operation_count + <u64>b) * 2


cdef inline u64 place_key(Problem *problem, int v, int k) noexcept nogil:
    return (<u64>v * <u64>problem.machine_count + <u64>k) * 2 + 1


cdef int move_is_tabu(Problem *problem, Schedule *sched, Workspace *ws, Move *mv,
                      i64 it) noexcept nogil:
    """A move is tabu if it restores an order or a machine that a recent move undid."""
    cdef int L, t
    if mv.machine != sched.machine[mv.op]:
        return tabu_has(ws, place_key(problem, mv.op, mv.machine), it)
    L = segment(sched, mv.op, mv.after, mv.right, ws.segment_ops)
    for t in range(L - 1):
        if mv.right and tabu_has(ws, order_key(problem, ws.segment_ops[t], mv.op), it):
            return 1
        if not mv.right and tabu_has(ws, order_key(problem, mv.op, ws.segment_ops[t + 1]), it):
            return 1
    return 0


cdef void make_tabu(Problem *problem, Schedule *sched, Workspace *ws, Move *mv,
                    i64 until) noexcept nogil:
    """Forbid undoing ``mv`` (call before applying it)."""
    cdef int L, t
    if mv.machine != sched.machine[mv.op]:
        tabu_set(ws, place_key(problem, mv.op, sched.machine[mv.op]), until)
        return
    L = segment(sched, mv.op, mv.after, mv.right, ws.segment_ops)
    for t in range(L - 1):
        if mv.right:
            tabu_set(ws, order_key(problem, mv.op, ws.segment_ops[t]), until)
        else:
            tabu_set(ws, order_key(problem, ws.segment_ops[t + 1], mv.op), until)


# ---------------------------------------------------------------- search

cdef void exact_values(Problem *problem, Schedule *sched, Workspace *ws) noexcept nogil:
    """Decode EXACT_SAMPLE candidates, half with the best makespan estimates and half drawn at
    random (the estimate ignores tardiness and stability), and store their exact objective;
    cycles get +inf."""
    cdef int c, j, old_k, old_after
    cdef i64 old_d
    cdef Move tmp
    cdef i64 mk
    cdef double tard, obj, rank
    cdef int moved
    for c in range(ws.move_count - 1, 0, -1):
        j = random_below(ws, c + 1)
        tmp = ws.moves[c]
        ws.moves[c] = ws.moves[j]
        ws.moves[j] = tmp
    if ws.move_count > EXACT_SAMPLE:
        for c in range(EXACT_SAMPLE // 2):
            j = c
            for old_k in range(c + 1, ws.move_count):
                if ws.moves[old_k].value < ws.moves[j].value:
                    j = old_k
            tmp = ws.moves[c]
            ws.moves[c] = ws.moves[j]
            ws.moves[j] = tmp
        ws.move_count = EXACT_SAMPLE
    mk, tard, moved, obj, rank = \
        sched.makespan, sched.tardiness, sched.moved, sched.objective, sched.rank
    for c in range(ws.move_count):
        tmp = ws.moves[c]
        old_k, old_after, old_d = \
            sched.machine[tmp.op], sched.machine_prev[tmp.op], sched.duration[tmp.op]
        old_next = sched.machine_next[tmp.op]
        relocate(sched, tmp.op, tmp.machine, tmp.after, tmp.duration)
        memcpy(ws.trial_start, sched.start, problem.operation_count * sizeof(i64))
        memcpy(ws.trial_end, sched.end, problem.operation_count * sizeof(i64))
        if evaluate_from(problem, sched, ws, ws.trial_start, ws.trial_end, tmp.op, old_next) == 0:
            score(problem, sched, ws, ws.trial_start, ws.trial_end)
            ws.moves[c].value = sched.rank
        else:
            ws.moves[c].value = INF
        relocate(sched, tmp.op, old_k, old_after, old_d)
    sched.makespan, sched.tardiness, sched.moved, sched.objective, sched.rank = \
        mk, tard, moved, obj, rank


cdef int choose(Problem *problem, Schedule *sched, Workspace *ws, i64 it,
                double best_obj) noexcept nogil:
    """Best non-tabu candidate (a tabu one if it beats the best so far); random among ties."""
    cdef int c, pick = -1, ties = 0, fallback = -1
    cdef double bv = INF, fv = INF, v
    for c in range(ws.move_count):
        v = ws.moves[c].value
        if v >= INF:
            continue
        if move_is_tabu(problem, sched, ws, &ws.moves[c], it) and v >= best_obj:
            if v < fv:
                fv, fallback = v, c
            continue
        if v < bv:
            bv, pick, ties = v, c, 1
        elif v == bv:
            ties += 1
            if random_below(ws, ties) == 0:
                pick = c
    return pick if pick >= 0 else fallback


cdef int apply_move(Problem *problem, Schedule *sched, Workspace *ws, Move *mv) noexcept nogil:
    """Apply, decode (fully: the estimates need the topological order for the tails) and
    score; undo and return -1 if the move closed a cycle."""
    cdef int old_k = sched.machine[mv.op], old_after = sched.machine_prev[mv.op], rc
    cdef i64 old_d = sched.duration[mv.op]
    relocate(sched, mv.op, mv.machine, mv.after, mv.duration)
    rc = evaluate(problem, sched, ws, sched.start, sched.end)
    if rc != 0:
        relocate(sched, mv.op, old_k, old_after, old_d)
        evaluate(problem, sched, ws, sched.start, sched.end)
    score(problem, sched, ws, sched.start, sched.end)
    tails(problem, sched, ws)
    return rc


cdef void perturb(Problem *problem, Schedule *sched, Workspace *ws, int count) noexcept nogil:
    cdef int done = 0, tries = 0, c
    while done < count and tries < 4 * count:
        tries += 1
        neighbourhood(problem, sched, ws, 0)
        if ws.move_count == 0:
            return
        c = random_below(ws, ws.move_count)
        if apply_move(problem, sched, ws, &ws.moves[c]) == 0:
            done += 1


cdef i64 search(Problem *problem, Schedule *cur, Schedule *best, Workspace *ws,
                SearchLimits *lim, int fast, int *stop_reason) noexcept nogil:
    cdef i64 it = 0, last_improve = 0
    cdef int c, attempt
    cdef Move mv
    tails(problem, cur, ws)
    stop_reason[0] = 0
    while True:
        if best.objective <= lim.lower_bound:
            stop_reason[0] = 2
            break
        if lim.iteration_limit >= 0 and it >= lim.iteration_limit:
            stop_reason[0] = 1
            break
        # An estimated iteration takes microseconds: read the clock every 16 of them. An exact
        # one decodes 40 candidates, so read it every time.
        if ((it & 15) == 0 or not fast) and now() >= lim.deadline:
            break
        neighbourhood(problem, cur, ws, 1)
        if ws.move_count == 0:
            stop_reason[0] = 3
            break
        if not fast:
            exact_values(problem, cur, ws)
        it += 1
        for attempt in range(3):
            c = choose(problem, cur, ws, it, best.rank)
            if c < 0:
                break
            mv = ws.moves[c]
            make_tabu(problem, cur, ws, &mv,
                      it + lim.tenure_min + random_below(ws, lim.tenure_span))
            if apply_move(problem, cur, ws, &mv) == 0:
                break
            ws.moves[c].value = INF
        if cur.rank < best.rank:
            copy_schedule(problem, best, cur)
            last_improve = it
        elif it - last_improve > lim.stall:
            copy_schedule(problem, cur, best)
            evaluate(problem, cur, ws, cur.start, cur.end)
            score(problem, cur, ws, cur.start, cur.end)
            memset(ws.tabu_until, 0, (1 << TABU_BITS) * sizeof(i64))
            perturb(problem, cur, ws, 6 + random_below(ws, 10))
            tails(problem, cur, ws)
            last_improve = it
    return it


# ---------------------------------------------------------------- lower bound over open time
#
# The bound of ``solver._makespan_bound`` ignores calendars: on machines closed a quarter of
# the time it is far below any schedule, so the search never stops on it. Here every job path
# and every machine's work is stretched over open time: the longest job path through the
# calendars, and, for each machine, the work only it can do, preemptively in its open time
# between each operation's earliest start and the latest end its job's path allows for a
# makespan target (Jackson's preemptive one-machine bound, with calendars). Setups, windows,
# operators and the other jobs are ignored and frozen operations are only fixed points of
# their jobs' paths, so it stays a bound with all of them.

cdef struct Bound:
    # Scratch arrays, one per operation: a topological order of the job precedences, each
    # operation's arrival (its predecessors' earliest ends) and latest end for a makespan
    # target, and one machine's operations with their earliest start and work left.
    int *order
    int *indegree
    i64 *arrival
    i64 *deadline
    int *ops
    i64 *ready
    i64 *due
    i64 *left


cdef i64 least_transport(Problem *problem, int i, int s) noexcept nogil:
    """The shortest transport from operation i to operation s over their eligible machines."""
    cdef int e, f
    cdef i64 t, best = NEVER
    if not problem.has_transport:
        return 0
    for e in range(problem.opt_ptr[i], problem.opt_ptr[i + 1]):
        for f in range(problem.opt_ptr[s], problem.opt_ptr[s + 1]):
            t = transport_time(problem, problem.opt_machine[e], problem.opt_machine[f])
            if t < best:
                best = t
    return best


cdef int job_order(Problem *problem, Bound *b) noexcept nogil:
    """A topological order of the job precedences (Kahn); the count placed."""
    cdef int n = problem.operation_count, i, e, p, h = 0, t = 0
    for i in range(n):
        b.indegree[i] = problem.pred_ptr[i + 1] - problem.pred_ptr[i]
        if b.indegree[i] == 0:
            b.order[t] = i
            t += 1
    while h < t:
        i = b.order[h]
        h += 1
        for e in range(problem.succ_ptr[i], problem.succ_ptr[i + 1]):
            p = problem.succs[e]
            b.indegree[p] -= 1
            if b.indegree[p] == 0:
                b.order[t] = p
                t += 1
    return t


cdef i64 earliest_end(Problem *problem, int i, i64 a) noexcept nogil:
    """The earliest end of operation i arriving at a, on its best machine's calendar alone."""
    cdef int e, k
    cdef i64 s, f, best = NEVER
    if problem.frozen_machine[i] >= 0:
        for e in range(problem.opt_ptr[i], problem.opt_ptr[i + 1]):
            if problem.opt_machine[e] == problem.frozen_machine[i]:
                return problem.frozen_start[i] + problem.opt_duration[e]
    for e in range(problem.opt_ptr[i], problem.opt_ptr[i + 1]):
        k = problem.opt_machine[e]
        s = open_start(problem, k, a, problem.opt_duration[e], problem.resumable[i])
        f = open_end(problem, k, s, problem.opt_duration[e], problem.resumable[i])
        if f < best:
            best = f
    return best


cdef i64 job_paths(Problem *problem, Bound *b) noexcept nogil:
    """Each operation's arrival along its job alone (``b.arrival``); the latest earliest end."""
    cdef int r, i, e, p
    cdef i64 a, f, longest = 0
    for r in range(problem.operation_count):
        i = b.order[r]
        b.arrival[i] = problem.release[i]
        if problem.frozen_machine[i] >= 0:
            b.arrival[i] = problem.frozen_start[i]
        else:
            for e in range(problem.pred_ptr[i], problem.pred_ptr[i + 1]):
                p = problem.preds[e]
                a = b.deadline[p] + least_transport(problem, p, i)
                if a > b.arrival[i]:
                    b.arrival[i] = a
        # ``deadline`` holds the earliest ends until ``job_deadlines`` overwrites them.
        f = earliest_end(problem, i, b.arrival[i])
        b.deadline[i] = f
        if f > longest:
            longest = f
    return longest


cdef void job_deadlines(Problem *problem, Bound *b, i64 target) noexcept nogil:
    """Each operation's latest end for its job to end by ``target``: before the latest start
    of each successor on its best machine, its transport at its shortest."""
    cdef int r, i, e, f, s
    cdef i64 dl, ls, best
    for r in range(problem.operation_count - 1, -1, -1):
        i = b.order[r]
        dl = target
        for e in range(problem.succ_ptr[i], problem.succ_ptr[i + 1]):
            s = problem.succs[e]
            if problem.frozen_machine[s] >= 0:
                best = problem.frozen_start[s]
            else:
                best = NEG
                for f in range(problem.opt_ptr[s], problem.opt_ptr[s + 1]):
                    ls = latest_start(problem, problem.opt_machine[f], s, b.deadline[s],
                                      problem.opt_duration[f])
                    if ls > best:
                        best = ls
            if best <= NEG // 2:
                dl = NEG
                break
            best -= least_transport(problem, i, s)
            if best < dl:
                dl = best
        b.deadline[i] = dl


cdef int machine_meets_deadlines(Problem *problem, Bound *b, int k) noexcept nogil:
    """Whether machine k can do, preemptively in its open time, the work that only it can do
    between each operation's earliest start and its deadline: earliest deadline first."""
    cdef int count = 0, e, i, r, pick, released = 0, done = 0, last = problem.calendar_ptr[k + 1]
    cdef int p
    cdef i64 t = NEG, stop, run, start, due
    for i in range(problem.operation_count):
        if problem.frozen_machine[i] >= 0 or problem.opt_ptr[i + 1] - problem.opt_ptr[i] != 1:
            continue
        e = problem.opt_ptr[i]
        if problem.opt_machine[e] != k or problem.opt_duration[e] == 0:
            continue
        # Its earliest and latest start on this machine's calendar, and its latest end (a
        # non-resumable one fits a period: that may be well before its deadline); then
        # insertion by earliest start (few operations per machine).
        start = open_start(problem, k, b.arrival[i], problem.opt_duration[e],
                           problem.resumable[i])
        due = latest_start(problem, k, i, b.deadline[i], problem.opt_duration[e])
        if due < start:
            return 0
        due = b.deadline[i] if problem.resumable[i] else due + problem.opt_duration[e]
        r = count
        while r > 0 and b.ready[r - 1] > start:
            b.ops[r] = b.ops[r - 1]
            b.ready[r] = b.ready[r - 1]
            b.due[r] = b.due[r - 1]
            b.left[r] = b.left[r - 1]
            r -= 1
        b.ops[r] = i
        b.ready[r] = start
        b.due[r] = due
        b.left[r] = problem.opt_duration[e]
        count += 1
    while done < count:
        while released < count and b.ready[released] <= t:
            released += 1
        pick = -1
        for r in range(released):
            if b.left[r] > 0 and (pick < 0 or b.due[r] < b.due[pick]):
                pick = r
        if pick < 0:
            t = b.ready[released]
            continue
        stop = NEVER
        if problem.calendar_on[k]:
            p = period_after(problem, k, t)
            if p >= last:
                return 0
            if problem.calendar_start[p] > t:
                t = problem.calendar_start[p]
                continue
            stop = problem.calendar_end[p]
        if released < count and b.ready[released] < stop:
            stop = b.ready[released]
        run = stop - t if stop - t < b.left[pick] else b.left[pick]
        t += run
        b.left[pick] -= run
        if b.left[pick] == 0:
            done += 1
            if t > b.due[pick]:
                return 0
        elif t >= b.due[pick]:
            return 0
    return 1


cdef int makespan_possible(Problem *problem, Bound *b, i64 target) noexcept nogil:
    """False if no schedule can end by ``target`` (by the relaxation above)."""
    cdef int k
    job_deadlines(problem, b, target)
    for k in range(problem.machine_count):
        if not machine_meets_deadlines(problem, b, k):
            return 0
    return 1


cdef i64 open_time_bound(Problem *problem, Bound *b, i64 floor) noexcept nogil:
    """The smallest makespan >= floor (a bound already known) that the relaxation allows."""
    cdef i64 bad, good, mid, step
    if job_order(problem, b) < problem.operation_count:
        return floor
    bad = job_paths(problem, b)
    if bad >= NEVER:
        return floor
    bad = (bad if bad > floor else floor) - 1
    # Feasibility only grows with the target: double a step until it holds, then bisect.
    step = 1
    good = bad + 1
    while not makespan_possible(problem, b, good):
        bad = good
        step *= 2
        good = bad + step
        if good >= NEVER // 4:
            return bad + 1
    while good - bad > 1:
        mid = bad + (good - bad) // 2
        if makespan_possible(problem, b, mid):
            good = mid
        else:
            bad = mid
    return good


# ---------------------------------------------------------------- deadline search
#
# The tabu search walks the critical paths of one plan. On job shops with calendars and
# non-resumable work that is weak: one unit less of makespan can need a whole closure less on a
# job path, far from any single move (see docs/scheduling.md, "The deadline search"). Here the
# machine orders are searched afresh for a makespan target: a complete depth-first search over
# starts (SetTimes: take the operation with the earliest start, ties to the least latest end;
# start it there, or postpone it until something pushes its earliest start), with constraint
# propagation at every node: earliest and latest starts through the job paths, transport, the
# calendars, windows and the operations already started; detectable precedences between two
# operations on a machine; an overload test of every machine's free time in every window from an
# earliest start to a latest end; and edge finding (an operation that cannot fit in such a
# window with the work that must lie in it goes after all of that work, or before it). Restarts
# follow the Luby sequence with a random tie-break.
# Only the machines whose operations' bounds changed are tested again. Neighbourhood runs keep
# most of the best plan's machine orders as precedences and search the rest.

cdef enum:
    # The deadline search keeps one state per depth: problems this size at most.
    DEADLINE_MAX_OPS = 400
    # Nodes of the first Luby run; each restart's budget is a Luby multiple of it.
    DEADLINE_LUBY_BASE = 500
    # Targets step an eighth of the way between the best makespan and the lower bound; each
    # gets this many nodes.
    DEADLINE_STEPS = 8
    DEADLINE_SLICE = 2000
    # Nodes of one neighbourhood run, and of the neighbourhood runs after each upper target.
    DEADLINE_LNS_NODES = 300
    DEADLINE_LNS_SLICE = 6000


# The share of jobs a neighbourhood run frees at first.
cdef double DEADLINE_LNS_SHARE = 0.2
cdef double DEADLINE_LNS_MIN = 0.05
cdef double DEADLINE_LNS_MAX = 0.9


cdef struct Deadline:
    int n, levels
    int *machine
    i64 *work
    int *ops_ptr
    int *ops
    # Per depth: earliest start, latest start, the earliest start an operation was postponed at
    # (-1: not postponed) and whether it is started (1) or frozen (2).
    i64 *est
    i64 *lst
    i64 *post
    char *fixed
    # Scratch of the overload test and edge finding: one machine's open operations (earliest
    # start, latest end, work, index) and its free time up to each one's earliest start and
    # latest end.
    i64 *u_est
    i64 *u_lct
    i64 *u_work
    i64 *u_op
    i64 *g_est
    i64 *g_lct
    int *by_lct
    int *by_est
    # The started operations' spans on one machine (``dl_free_time``).
    i64 *b_start
    i64 *b_end
    # Neighbourhood runs: an operation kept in the best plan's order runs after ``mprev`` (the
    # kept operation before it on its machine there) and before ``mnext`` (-1: none).
    int *mprev
    int *mnext
    # Per machine: its operations' bounds changed since its detectable precedences (first
    # half) or its overload test and edge finding (second half) last ran.
    char *dirty
    i64 nodes, node_limit
    double deadline
    double noise, spread
    # Neighbourhood runs search backwards (``dl_dfs``).
    int backward
    Workspace *ws


cdef inline i64 dl_end(Problem *problem, Deadline *cp, int i, i64 s) noexcept nogil:
    return open_end(problem, cp.machine[i], s, cp.work[i], problem.resumable[i])


cdef i64 dl_earliest(Problem *problem, Deadline *cp, const i64 *st, const char *fx, int i,
                     i64 t) noexcept nogil:
    """Earliest start >= t of operation i on its machine: the calendar and the windows allow it
    (``calendar_fit``) and it overlaps no started operation there."""
    cdef int k = cp.machine[i], e, j, moved = 1
    cdef i64 s = t, f
    while moved:
        moved = 0
        s = calendar_fit(problem, k, i, s, cp.work[i], &f)
        if s >= NEVER:
            return NEVER
        for e in range(cp.ops_ptr[k], cp.ops_ptr[k + 1]):
            j = cp.ops[e]
            if fx[j] == 1 and j != i and st[j] < f and s < dl_end(problem, cp, j, st[j]):
                s = dl_end(problem, cp, j, st[j])
                moved = 1
                break
    return s


cdef i64 dl_latest(Problem *problem, Deadline *cp, const i64 *st, const char *fx, int i,
                   i64 t) noexcept nogil:
    """Latest start of operation i whose span ends by t, in its calendar, clear of the windows
    and of the started operations on its machine (NEG if none)."""
    cdef int k = cp.machine[i], e, j, moved = 1
    cdef i64 s = NEG, f, a
    while moved:
        moved = 0
        s = latest_start(problem, k, i, t, cp.work[i])
        if s <= NEG:
            return NEG
        f = dl_end(problem, cp, i, s)
        for e in range(problem.blocked_ptr[k], problem.blocked_ptr[k + 1]):
            if problem.blocked_start[e] < f and s < problem.blocked_end[e]:
                t = problem.blocked_start[e]
                moved = 1
                break
        if moved:
            continue
        for e in range(cp.ops_ptr[k], cp.ops_ptr[k + 1]):
            j = cp.ops[e]
            if fx[j] == 1 and j != i and st[j] < f:
                a = dl_end(problem, cp, j, st[j])
                if s < a:
                    t = st[j]
                    moved = 1
                    break
    return s


cdef i64 dl_open_part(Problem *problem, int k, i64 a, i64 b, i64 lo, i64 hi) noexcept nogil:
    """The open time of machine k inside [a, b) and [lo, hi)."""
    cdef i64 total = 0, x, y
    cdef int p
    if a < lo:
        a = lo
    if b > hi:
        b = hi
    if a >= b:
        return 0
    if not problem.calendar_on[k]:
        return b - a
    p = period_after(problem, k, a)
    while p < problem.calendar_ptr[k + 1] and problem.calendar_start[p] < b:
        x = problem.calendar_start[p] if problem.calendar_start[p] > a else a
        y = problem.calendar_end[p] if problem.calendar_end[p] < b else b
        if x < y:
            total += y - x
        p += 1
    return total


cdef void dl_free_time(Problem *problem, Deadline *cp, const i64 *st, const char *fx, int k,
                       i64 base, int c) noexcept nogil:
    """Machine k's free time (open, outside the windows and the started operations) from
    ``base`` to each of its c open operations' earliest start (``g_est``) and latest end
    (``g_lct``), in one sweep along both orders (``by_est``, ``by_lct``): each stretch between
    consecutive points is counted once, against the machine's started operations (collected
    once, in ``b_start``, ``b_end``)."""
    cdef int e, j, nb = 0, x = 0, y = 0, w
    cdef i64 t = base, g = 0, p, part
    for e in range(cp.ops_ptr[k], cp.ops_ptr[k + 1]):
        j = cp.ops[e]
        if fx[j] == 1:
            cp.b_start[nb] = st[j]
            cp.b_end[nb] = dl_end(problem, cp, j, st[j])
            nb += 1
    while x < c or y < c:
        if x < c and (y >= c or cp.u_est[cp.by_est[x]] <= cp.u_lct[cp.by_lct[y]]):
            p = cp.u_est[cp.by_est[x]]
        else:
            p = cp.u_lct[cp.by_lct[y]]
        if p > t:
            part = dl_open_part(problem, k, t, p, t, p)
            for w in range(problem.blocked_ptr[k], problem.blocked_ptr[k + 1]):
                part -= dl_open_part(problem, k, problem.blocked_start[w], problem.blocked_end[w],
                                     t, p)
            for w in range(nb):
                if cp.b_start[w] < p and t < cp.b_end[w]:
                    part -= dl_open_part(problem, k, cp.b_start[w], cp.b_end[w], t, p)
            g += part
            t = p
        if x < c and cp.u_est[cp.by_est[x]] == p:
            cp.g_est[cp.by_est[x]] = g
            x += 1
        else:
            cp.g_lct[cp.by_lct[y]] = g
            y += 1


cdef inline void dl_insert(int *order, int c, const i64 *key) noexcept nogil:
    """Insert index c into ``order[0..c)``, kept sorted by ``key`` (after equal keys)."""
    cdef int y = c
    while y > 0 and key[order[y - 1]] > key[c]:
        order[y] = order[y - 1]
        y -= 1
    order[y] = c


cdef inline void dl_touch(Problem *problem, Deadline *cp, int i) noexcept nogil:
    """Operation i's bounds changed: its machine's tests run again."""
    cp.dirty[cp.machine[i]] = 1
    cp.dirty[problem.machine_count + cp.machine[i]] = 1


cdef int dl_propagate(Problem *problem, Deadline *cp, i64 *est, i64 *lst, const char *fx) \
        noexcept nogil:
    """Tighten the earliest and latest starts to a fixpoint; -1 when some operation has none."""
    cdef int n = cp.n, changed = 1, i, e, p, k, a, b, ea, x, y, c, z
    cdef i64 t, v, ect_a, ect_b, need, lo, hi, base, most
    while changed:
        changed = 0
        # Job paths, with transport: earliest starts forwards (operations are numbered along
        # their jobs), latest starts backwards.
        for i in range(n):
            if fx[i]:
                continue
            t = est[i]
            for e in range(problem.pred_ptr[i], problem.pred_ptr[i + 1]):
                p = problem.preds[e]
                v = dl_end(problem, cp, p, est[p]) + transport_time(problem, cp.machine[p],
                                                                     cp.machine[i])
                if v > t:
                    t = v
            p = cp.mprev[i]
            if p >= 0 and dl_end(problem, cp, p, est[p]) > t:
                t = dl_end(problem, cp, p, est[p])
            # est[i] is a start the machine allows (kept so when an operation is started there),
            # so only a later arrival needs a new fit.
            if t > est[i]:
                est[i] = dl_earliest(problem, cp, est, fx, i, t)
                dl_touch(problem, cp, i)
                changed = 1
        for i in range(n - 1, -1, -1):
            if fx[i]:
                continue
            t = NEVER
            for e in range(problem.succ_ptr[i], problem.succ_ptr[i + 1]):
                p = problem.succs[e]
                v = lst[p] - transport_time(problem, cp.machine[i], cp.machine[p])
                if v < t:
                    t = v
            p = cp.mnext[i]
            if p >= 0 and lst[p] < t:
                t = lst[p]
            if t < dl_end(problem, cp, i, lst[i]):
                lst[i] = dl_latest(problem, cp, est, fx, i, t)
                dl_touch(problem, cp, i)
                changed = 1
            if est[i] > lst[i]:
                return -1
        # A started or frozen operation's successors must start after it has arrived, and its
        # predecessors arrive before it starts.
        for i in range(n):
            if not fx[i]:
                continue
            for e in range(problem.pred_ptr[i], problem.pred_ptr[i + 1]):
                p = problem.preds[e]
                if dl_end(problem, cp, p, est[p]) + transport_time(
                        problem, cp.machine[p], cp.machine[i]) > est[i]:
                    return -1
            p = cp.mprev[i]
            if p >= 0 and dl_end(problem, cp, p, est[p]) > est[i]:
                return -1
        if changed:
            continue
        # Detectable precedences: if a cannot end before b's latest start, b goes first. The
        # machine's open operations by latest start (``by_lct``, from ``u_lct`` as it was), with
        # their earliest ends (``u_est``): for each a only the prefix of that order before a's
        # earliest end can go first. A latest start that drops here leaves the order stale, but
        # also the machine dirty, so the next round sees it.
        for k in range(problem.machine_count):
            if not cp.dirty[k]:
                continue
            cp.dirty[k] = 0
            c = 0
            for x in range(cp.ops_ptr[k], cp.ops_ptr[k + 1]):
                a = cp.ops[x]
                if fx[a]:
                    continue
                cp.u_op[c] = a
                cp.u_est[c] = dl_end(problem, cp, a, est[a])
                cp.u_lct[c] = lst[a]
                dl_insert(cp.by_lct, c, cp.u_lct)
                c += 1
            for x in range(c):
                a = <int>cp.u_op[x]
                for ea in range(c):
                    y = cp.by_lct[ea]
                    b = <int>cp.u_op[y]
                    if cp.u_est[x] <= lst[b]:
                        break
                    if y == x:
                        continue
                    ect_b = cp.u_est[y]
                    if ect_b > lst[a]:
                        return -1
                    if ect_b > est[a]:
                        v = dl_earliest(problem, cp, est, fx, a, ect_b)
                        if v > est[a]:
                            est[a] = v
                            dl_touch(problem, cp, a)
                            changed = 1
                            cp.u_est[x] = dl_end(problem, cp, a, est[a])
                    if dl_end(problem, cp, b, lst[b]) > lst[a]:
                        v = dl_latest(problem, cp, est, fx, b, lst[a])
                        if v < lst[b]:
                            lst[b] = v
                            dl_touch(problem, cp, b)
                            changed = 1
                    if est[a] > lst[a] or est[b] > lst[b]:
                        return -1
        if changed:
            continue
        # Overload: the work that must lie within [lo, hi) fits in the machine's open time
        # there (free time counted from the machine's least earliest start).
        for k in range(problem.machine_count):
            if not cp.dirty[problem.machine_count + k]:
                continue
            cp.dirty[problem.machine_count + k] = 0
            c = 0
            base = NEVER
            most = 0
            for x in range(cp.ops_ptr[k], cp.ops_ptr[k + 1]):
                a = cp.ops[x]
                if fx[a]:
                    continue
                cp.u_est[c] = est[a]
                cp.u_lct[c] = dl_end(problem, cp, a, lst[a])
                cp.u_work[c] = cp.work[a]
                cp.u_op[c] = a
                if est[a] < base:
                    base = est[a]
                if cp.work[a] > most:
                    most = cp.work[a]
                dl_insert(cp.by_lct, c, cp.u_lct)
                dl_insert(cp.by_est, c, cp.u_est)
                c += 1
            if c < 2:
                continue
            dl_free_time(problem, cp, est, fx, k, base, c)
            for x in range(c):
                lo = cp.u_est[x]
                need = 0
                for ea in range(c):
                    # The window [lo, hi) for each latest end hi: the work that must lie in it
                    # grows along the latest ends (all of one latest end before the window).
                    y = cp.by_lct[ea]
                    if cp.u_est[y] >= lo:
                        need += cp.u_work[y]
                    if ea + 1 < c and cp.u_lct[cp.by_lct[ea + 1]] == cp.u_lct[y]:
                        continue
                    hi = cp.u_lct[y]
                    if hi <= lo or need == 0:
                        continue
                    if need > cp.g_lct[y] - cp.g_est[x]:
                        return -1
                    # Nothing outside the window fits so badly that it must go before or after
                    # the work in it: an operation's free time around the window is at least the
                    # window's.
                    if cp.g_lct[y] - cp.g_est[x] - need >= most:
                        continue
                    # Edge finding: an operation outside the set that cannot fit in the window
                    # with it goes after all of it (or before, mirrored).
                    for z in range(c):
                        if cp.u_est[z] >= lo and cp.u_lct[z] <= hi:
                            continue
                        a = <int>cp.u_op[z]
                        if cp.u_lct[z] > hi and cp.u_work[z] > 0 and cp.g_lct[y] - (
                                cp.g_est[z] if cp.u_est[z] < lo else cp.g_est[x]) \
                                < need + cp.u_work[z] and est[a] < lo + need:
                            v = dl_earliest(problem, cp, est, fx, a, lo + need)
                            if v > est[a]:
                                est[a] = v
                                dl_touch(problem, cp, a)
                                changed = 1
                                if est[a] > lst[a]:
                                    return -1
                        if cp.u_est[z] < lo and cp.u_work[z] > 0 and (
                                cp.g_lct[z] if cp.u_lct[z] > hi else cp.g_lct[y]) \
                                - cp.g_est[x] < need + cp.u_work[z]:
                            v = dl_latest(problem, cp, est, fx, a, hi - need)
                            if v < lst[a]:
                                lst[a] = v
                                dl_touch(problem, cp, a)
                                changed = 1
                                if est[a] > lst[a]:
                                    return -1
    return 0


cdef inline bint dl_postponed(Deadline *cp, const i64 *est, const i64 *lst, const i64 *post,
                              int i) noexcept nogil:
    """Operation i was postponed at its present earliest start (backwards: brought forward
    from its present latest start), so it is not selectable until something pushes it."""
    if post[i] < 0:
        return 0
    return lst[i] >= post[i] if cp.backward else est[i] <= post[i]


cdef int dl_dfs(Problem *problem, Deadline *cp, int depth) noexcept nogil:
    """1: the state at ``depth`` leads to a schedule (left in that depth's ``est``), 0: it
    cannot, -1: the node or time limit ran out. Forwards (SetTimes): start the operation with
    the earliest start there, or postpone it. Backwards (``cp.backward``, the mirror image):
    start the one with the latest end at its latest start, or bring it forward."""
    cdef int n = cp.n, i, j, k, e, pick = -1, open_ops = 0, selectable = 0, result
    cdef int backward = cp.backward
    cdef i64 *est = cp.est + <size_t>depth * n
    cdef i64 *lst = cp.lst + <size_t>depth * n
    cdef i64 *post = cp.post + <size_t>depth * n
    cdef char *fx = cp.fixed + <size_t>depth * n
    cdef i64 least_ect = NEVER, ect, first, key, best_first = NEG, best_key = NEVER, stuck
    cdef i64 *est2
    cdef i64 *lst2
    cdef i64 *post2
    cdef char *fx2
    cp.nodes += 1
    if cp.nodes > cp.node_limit or depth + 1 >= cp.levels:
        return -1
    if (cp.nodes & 63) == 0 and now() >= cp.deadline:
        return -1
    if dl_propagate(problem, cp, est, lst, fx) != 0:
        return 0
    # Selectable: not started, and not postponed at its present earliest start (backwards:
    # not brought forward from its present latest start).
    for i in range(n):
        if fx[i]:
            continue
        open_ops += 1
        if dl_postponed(cp, est, lst, post, i):
            continue
        selectable += 1
        if not backward:
            ect = dl_end(problem, cp, i, est[i])
            if ect < least_ect:
                least_ect = ect
    if open_ops == 0:
        return 1
    if selectable == 0 or (not backward and least_ect >= NEVER):
        return 0
    # A postponed operation that nothing can push any more is never started: its job
    # predecessors started and every other open operation on its machine starting after its
    # earliest end (backwards: its job successors started, every other one ending before its
    # latest start).
    for i in range(n):
        if fx[i] or not dl_postponed(cp, est, lst, post, i):
            continue
        stuck = 1
        k = cp.machine[i]
        if backward:
            for e in range(problem.succ_ptr[i], problem.succ_ptr[i + 1]):
                if not fx[problem.succs[e]]:
                    stuck = 0
            for e in range(cp.ops_ptr[k], cp.ops_ptr[k + 1]):
                j = cp.ops[e]
                if j != i and not fx[j] and dl_end(problem, cp, j, lst[j]) > lst[i]:
                    stuck = 0
        else:
            ect = dl_end(problem, cp, i, est[i])
            for e in range(problem.pred_ptr[i], problem.pred_ptr[i + 1]):
                if not fx[problem.preds[e]]:
                    stuck = 0
            for e in range(cp.ops_ptr[k], cp.ops_ptr[k + 1]):
                j = cp.ops[e]
                if j != i and not fx[j] and est[j] < ect:
                    stuck = 0
        if stuck:
            return 0
    # The earliest start first, ties to the least latest end (backwards: the latest end first,
    # ties to the greatest earliest start; randomised after a restart).
    for i in range(n):
        if fx[i] or dl_postponed(cp, est, lst, post, i):
            continue
        if backward:
            first = dl_end(problem, cp, i, lst[i])
            key = -est[i]
        else:
            first = -est[i]
            key = dl_end(problem, cp, i, lst[i])
        if cp.noise > 0:
            key += <i64>(cp.noise * ((random_u64(cp.ws) >> 11) * (1.0 / 9007199254740992.0)))
        if pick < 0 or first > best_first or (first == best_first and key < best_key):
            best_first = first
            best_key = key
            pick = i
    est2 = est + n
    lst2 = lst + n
    post2 = post + n
    fx2 = fx + n
    # Start it at its earliest start (backwards: its latest)...
    memcpy(est2, est, n * sizeof(i64))
    memcpy(lst2, lst, n * sizeof(i64))
    memcpy(post2, post, n * sizeof(i64))
    memcpy(fx2, fx, n * sizeof(char))
    if backward:
        est2[pick] = lst2[pick]
    else:
        lst2[pick] = est2[pick]
    fx2[pick] = 1
    post2[pick] = -1
    # The other open operations on its machine fit around it.
    k = cp.machine[pick]
    dl_touch(problem, cp, pick)
    ect = dl_end(problem, cp, pick, est2[pick])
    for e in range(cp.ops_ptr[k], cp.ops_ptr[k + 1]):
        j = cp.ops[e]
        if fx2[j]:
            continue
        if est2[j] < ect and est2[pick] < dl_end(problem, cp, j, est2[j]):
            est2[j] = dl_earliest(problem, cp, est2, fx2, j, est2[j])
        if lst2[j] < ect and est2[pick] < dl_end(problem, cp, j, lst2[j]):
            lst2[j] = dl_latest(problem, cp, est2, fx2, j, dl_end(problem, cp, j, lst2[j]))
    result = dl_dfs(problem, cp, depth + 1)
    if result != 0:
        if result == 1:
            memcpy(est, est2, n * sizeof(i64))
        return result
    # ... or later (backwards: earlier).
    memcpy(est2, est, n * sizeof(i64))
    memcpy(lst2, lst, n * sizeof(i64))
    memcpy(post2, post, n * sizeof(i64))
    memcpy(fx2, fx, n * sizeof(char))
    post2[pick] = lst[pick] if backward else est[pick]
    result = dl_dfs(problem, cp, depth + 1)
    if result == 1:
        memcpy(est, est2, n * sizeof(i64))
    return result


cdef i64 luby(i64 i) noexcept nogil:
    """The Luby sequence 1, 1, 2, 1, 1, 2, 4, ... (i from 1)."""
    cdef i64 k = 1
    while ((<i64>1) << k) - 1 < i:
        k += 1
    while ((<i64>1) << k) - 1 != i:
        i -= ((<i64>1) << (k - 1)) - 1
        k = 1
        while ((<i64>1) << k) - 1 < i:
            k += 1
    return (<i64>1) << (k - 1)


cdef int deadline_applies(Problem *problem) noexcept nogil:
    """Job shops (one machine per operation) with calendars and the makespan alone: with a
    choice of machines the search would keep the plan's, and on the flexible calendar sets
    (mk-cal) the tabu search does better with the time. It models calendars, windows, frozen
    work, releases and transport, not setups or operators, and keeps one state per depth."""
    cdef int i
    if not problem.tie_break or problem.has_setups or problem.operator_count \
            or problem.operation_count > DEADLINE_MAX_OPS:
        return 0
    for i in range(problem.operation_count):
        if problem.opt_ptr[i + 1] - problem.opt_ptr[i] != 1:
            return 0
    return 1


cdef struct DeadlineStats:
    # Targets tried, plans improved, nodes searched.
    i64 runs, found, nodes


cdef void dl_machines(Problem *problem, Deadline *cp, Schedule *sched) noexcept nogil:
    """Each operation's machine and work in ``sched`` (a job shop's only ones, so the same for
    every target), and each machine's operations but the frozen ones (CSR)."""
    cdef int n = cp.n, i, k, c = 0
    for k in range(problem.machine_count + 1):
        cp.ops_ptr[k] = 0
    for i in range(n):
        cp.machine[i] = sched.machine[i]
        cp.work[i] = sched.duration[i]
        if problem.frozen_machine[i] < 0:
            cp.ops_ptr[sched.machine[i] + 1] += 1
    for k in range(problem.machine_count):
        cp.ops_ptr[k + 1] += cp.ops_ptr[k]
    for k in range(problem.machine_count):
        for i in range(n):
            if problem.frozen_machine[i] < 0 and sched.machine[i] == k:
                cp.ops[c] = i
                c += 1


cdef int deadline_solve(Problem *problem, Schedule *sched, Workspace *ws, Deadline *cp,
                        i64 target, i64 *nodes) noexcept nogil:
    """Search the machine orders (of ``dl_machines``) for a makespan <= ``target``, with Luby
    restarts until the node budget or the deadline. 1: found (``sched`` holds it, decoded), 0:
    no such orders exist (a run was exhaustive), -1: out of budget."""
    cdef int n = cp.n, i, k, e, result = -1
    cdef i64 run = 1, budget, t, d
    cdef i64 *est = cp.est
    cdef i64 *lst = cp.lst
    while cp.nodes < cp.node_limit and now() < cp.deadline:
        budget = DEADLINE_LUBY_BASE * luby(run)
        for i in range(n):
            cp.post[i] = -1
            if problem.frozen_machine[i] >= 0:
                cp.fixed[i] = 2
                est[i] = problem.frozen_start[i]
                lst[i] = est[i]
                continue
            cp.fixed[i] = 0
        for i in range(n):
            if problem.frozen_machine[i] < 0:
                est[i] = dl_earliest(problem, cp, est, cp.fixed, i, problem.release[i])
                lst[i] = dl_latest(problem, cp, est, cp.fixed, i, target)
        memset(cp.dirty, 1, 2 * problem.machine_count)
        cp.noise = 0.0 if run == 1 else cp.spread
        t = cp.node_limit
        cp.node_limit = cp.nodes + budget if cp.nodes + budget < t else t
        d = cp.nodes
        result = dl_dfs(problem, cp, 0)
        cp.node_limit = t
        nodes[0] += cp.nodes - d
        if result >= 0:
            break
        run += 1
    if result != 1:
        return result
    # The found starts, as machine orders, decoded (the decode can only start earlier).
    for k in range(problem.machine_count):
        sched.machine_first[k] = -1
        sched.machine_last[k] = -1
    for e in range(n):
        sched.machine_prev[e] = -1
        sched.machine_next[e] = -1
    for k in range(problem.machine_count):
        for e in range(cp.ops_ptr[k], cp.ops_ptr[k + 1]):
            ws.ready[e - cp.ops_ptr[k]] = cp.ops[e]
            ws.priority[cp.ops[e]] = <double>est[cp.ops[e]]
        sort_by_prio(ws, cp.ops_ptr[k + 1] - cp.ops_ptr[k])
        for e in range(cp.ops_ptr[k + 1] - cp.ops_ptr[k]):
            i = ws.ready[e]
            link(sched, i, k, sched.machine_last[k], cp.work[i])
    if evaluate(problem, sched, ws, sched.start, sched.end) != 0:
        return -1
    score(problem, sched, ws, sched.start, sched.end)
    return 1


cdef void dl_keep_none(Deadline *cp) noexcept nogil:
    """No operation bound to the best plan's machine order: the whole plan is searched."""
    cdef int i
    for i in range(cp.n):
        cp.mprev[i] = -1
        cp.mnext[i] = -1


cdef void dl_neighbourhood(Problem *problem, Deadline *cp, Schedule *best, Workspace *ws,
                           double share) noexcept nogil:
    """Free every operation of a few jobs: the job of an operation that ends last in the best
    plan (random among ties) and about ``share`` of the jobs drawn at random (a job drawn twice
    counts once). The others keep the best plan's order among themselves on every machine
    (``mprev``, ``mnext``); the freed jobs are placed afresh between them. A whole job moves
    its chain of operations together, which a critical chain across machines needs (tried
    against freeing a block of each machine's order, a time window of the whole plan, and
    whole machines: docs/scheduling.md)."""
    cdef int i, k, t, last, count = <int>(share * problem.job_count + 0.5)
    dl_keep_none(cp)
    # Freed jobs are marked by job index: ws.mark has an entry per operation, and every job has
    # one at least (models.py refuses a job without).
    ws.stamp += 1
    i = pick_end(problem, best, ws, -1)
    if i >= 0:
        ws.mark[problem.job_of[i]] = ws.stamp
    for t in range(count - 1):
        ws.mark[random_below(ws, problem.job_count)] = ws.stamp
    for k in range(problem.machine_count):
        # The kept operations, chained in the plan's order (frozen ones are fixed anyway).
        last = -1
        i = best.machine_first[k]
        while i >= 0:
            if problem.frozen_machine[i] < 0 and ws.mark[problem.job_of[i]] != ws.stamp:
                cp.mprev[i] = last
                if last >= 0:
                    cp.mnext[last] = i
                last = i
            i = best.machine_next[i]


cdef void deadline_phase(Problem *problem, Schedule *cur, Schedule *best, Workspace *ws,
                         SearchLimits *lim, double until, i64 node_budget,
                         DeadlineStats *stats) noexcept nogil:
    """Lower the best plan's makespan with the deadline search until the budget (``until``,
    ``node_budget``) runs out, each target with a slice of it. The search is guided by its
    target's latest ends, so a tight target is found (or proved out of reach) fastest and a
    loose one may not be found at all. So the targets alternate between two sides: just above
    the lower bound (an eighth of the way to the best makespan, then half as far after each
    target of that side was found or ran out) and just below the best makespan (an eighth of the
    way down, half as far after a slice ran out). A target proved out of reach proves every
    makespan up to it impossible (one machine per operation, ``deadline_applies``): the lower
    bound, ``lim.lower_bound``, rises above it. After each target of the upper side that ran
    out, neighbourhood runs (``dl_neighbourhood``) get a slice: most jobs keep the best plan's
    machine orders, the operations of a few are searched afresh for a makespan one below the
    best (as CP-SAT's large neighbourhood search does). They search backwards, from the target's
    latest ends (``dl_dfs``): on ta01, ta06 and ta09-cal that escapes more of the basins the
    forward search ends in (docs/scheduling.md). A neighbourhood run that is exhaustive only
    says that the neighbourhood holds nothing better: it proves no bound."""
    cdef Deadline cp
    cdef int n = problem.operation_count, i, r
    cdef size_t levels = 4 * <size_t>n + 4
    cdef char *memory
    cdef i64 target, total = 0, lo, drop, rise, slice_nodes, spent
    cdef int bottom = 1
    cdef double share = DEADLINE_LNS_SHARE
    memset(&cp, 0, sizeof(Deadline))
    memory = <char *>calloc(1, n * (sizeof(int) * 6 + sizeof(i64))
                            + (problem.machine_count + 2) * sizeof(int)
                            + 2 * problem.machine_count
                            + levels * n * (3 * sizeof(i64) + sizeof(char))
                            + 8 * n * sizeof(i64) + 64)
    if memory == NULL:
        return
    cp.est = <i64 *>memory
    cp.lst = cp.est + levels * n
    cp.post = cp.lst + levels * n
    cp.u_est = cp.post + levels * n
    cp.u_lct = cp.u_est + n
    cp.u_work = cp.u_lct + n
    cp.u_op = cp.u_work + n
    cp.g_est = cp.u_op + n
    cp.g_lct = cp.g_est + n
    cp.b_start = cp.g_lct + n
    cp.b_end = cp.b_start + n
    cp.work = cp.b_end + n
    cp.machine = <int *>(cp.work + n)
    cp.ops = cp.machine + n
    cp.ops_ptr = cp.ops + n
    cp.mprev = cp.ops_ptr + problem.machine_count + 2
    cp.mnext = cp.mprev + n
    cp.by_lct = cp.mnext + n
    cp.by_est = cp.by_lct + n
    cp.fixed = <char *>(cp.by_est + n)
    cp.dirty = cp.fixed + levels * n
    cp.n = n
    dl_keep_none(&cp)
    cp.levels = <int>levels
    cp.deadline = until
    cp.node_limit = node_budget
    cp.ws = ws
    for i in range(n):
        total += best.duration[i]
    dl_machines(problem, &cp, best)
    # The random tie-break of the restarts: up to twice the mean work of an operation.
    cp.spread = 2.0 * total / (n if n > 0 else 1)
    lo = <i64>lim.lower_bound
    drop = (best.makespan - lo) // DEADLINE_STEPS
    rise = drop
    while cp.nodes < cp.node_limit and now() < until:
        if lo > best.makespan - 1:
            break
        if drop < 1:
            drop = 1
        if bottom:
            target = lo + rise
        else:
            target = best.makespan - drop
        if target >= best.makespan:
            target = best.makespan - 1
        if target < lo:
            target = lo
        copy_schedule(problem, cur, best)
        stats.runs += 1
        slice_nodes = cp.node_limit
        if cp.nodes + DEADLINE_SLICE < slice_nodes:
            cp.node_limit = cp.nodes + DEADLINE_SLICE
        r = deadline_solve(problem, cur, ws, &cp, target, &stats.nodes)
        cp.node_limit = slice_nodes
        if r == 1 and cur.rank < best.rank:
            copy_schedule(problem, best, cur)
            stats.found += 1
            drop = (best.makespan - lo) // DEADLINE_STEPS
            rise = rise // 2
        elif r == 0:
            # Proved out of reach: so is every makespan up to the target.
            lo = target + 1
            lim.lower_bound = <double>lo
            drop = (best.makespan - lo) // DEADLINE_STEPS
        elif bottom:
            rise = rise // 2
            bottom = 0
        else:
            drop = drop // 2 if drop > 1 else (best.makespan - lo) // DEADLINE_STEPS
            bottom = 1
        if bottom or lo > best.makespan - 1:
            continue
        # Neighbourhood runs: most jobs keep the best plan's machine orders, a few are searched
        # afresh for a makespan one below the best. The freed share of the jobs grows when a
        # run was exhaustive (nothing better that near) and shrinks when it ran out of nodes.
        spent = cp.nodes + DEADLINE_LNS_SLICE
        cp.backward = 1
        while cp.nodes < spent and cp.nodes < slice_nodes and now() < until \
                and lo <= best.makespan - 1:
            dl_neighbourhood(problem, &cp, best, ws, share)
            copy_schedule(problem, cur, best)
            stats.runs += 1
            cp.node_limit = cp.nodes + DEADLINE_LNS_NODES
            if cp.node_limit > slice_nodes:
                cp.node_limit = slice_nodes
            r = deadline_solve(problem, cur, ws, &cp, best.makespan - 1, &stats.nodes)
            cp.node_limit = slice_nodes
            if r == 1 and cur.rank < best.rank:
                copy_schedule(problem, best, cur)
                stats.found += 1
            elif r == 0:
                share = share * 1.1 if share * 1.1 < DEADLINE_LNS_MAX else DEADLINE_LNS_MAX
            else:
                share = share * 0.9 if share * 0.9 > DEADLINE_LNS_MIN else DEADLINE_LNS_MIN
        cp.backward = 0
        dl_keep_none(&cp)
    free(memory)


cdef double TABU_SHARE = 0.1
cdef double DEADLINE_UNTIL = 0.95


cdef i64 deadline_plan(Problem *problem, Schedule *cur, Schedule *best, Workspace *ws,
                       SearchLimits *lim, int fast, int *stop_reason, double t0, double limit,
                       DeadlineStats *stats) noexcept nogil:
    """The tabu search for a tenth of the budget, the deadline search until 95 % of it, then
    the tabu search again from the best plan. With an iteration limit (reproducible runs) the
    tabu search gets half of it in each part and the deadline search 1,000 nodes and 20 per
    iteration."""
    cdef double deadline = lim.deadline
    cdef i64 it_limit = lim.iteration_limit, it, nodes = -1
    if it_limit >= 0:
        lim.iteration_limit = it_limit // 2
        nodes = 1000 + 20 * it_limit
    lim.deadline = t0 + TABU_SHARE * limit if t0 + TABU_SHARE * limit < deadline else deadline
    it = search(problem, cur, best, ws, lim, fast, stop_reason)
    lim.deadline = deadline
    if stop_reason[0] == 2:
        return it
    deadline_phase(problem, cur, best, ws, lim,
                   t0 + DEADLINE_UNTIL * limit if it_limit < 0 else deadline,
                   nodes if nodes >= 0 else NEVER, stats)
    copy_schedule(problem, cur, best)
    evaluate(problem, cur, ws, cur.start, cur.end)
    score(problem, cur, ws, cur.start, cur.end)
    if it_limit >= 0:
        lim.iteration_limit = it_limit - it
    it += search(problem, cur, best, ws, lim, fast, stop_reason)
    lim.iteration_limit = it_limit
    return it


# ---------------------------------------------------------------- memory

cdef void *carve(Arena *arena, size_t count, size_t size) noexcept nogil:
    """Room for ``count`` items of ``size`` bytes, zeroed, 16-byte aligned (NULL while the
    first pass only measures)."""
    cdef char *at = NULL
    if arena.base != NULL:
        at = arena.base + arena.used
    arena.used += (count * size + 15) & ~(<size_t>15)
    return at


cdef int arena_open(Arena *arena) noexcept nogil:
    """After the measuring pass: one allocation of everything it counted, carved from the start."""
    arena.base = <char *>calloc(arena.used + 16, 1)
    arena.used = 0
    return 0 if arena.base != NULL else -1


ctypedef fused item:
    int
    i64
    u64
    double


cdef item *carve_copy(Arena *arena, const item[:] src) noexcept:
    """A copy of ``src`` in the arena, with one item of room after it (NULL while measuring)."""
    cdef item *dst = <item *>carve(arena, src.shape[0] + 1, sizeof(item))
    if dst != NULL and src.shape[0]:
        memcpy(dst, &src[0], src.shape[0] * sizeof(item))
    return dst


cdef int attendable(Problem *problem) noexcept nogil:
    """Operator-operation pairs with the skill: room for every operation an operator could
    attend."""
    cdef int k, i, total = 0
    for k in range(problem.operator_count):
        for i in range(problem.operation_count):
            if problem.skill[i] >= 0 and (problem.operator_skills[k] >> problem.skill[i]) & 1:
                total += 1
    return total


cdef void carve_workspace(Problem *problem, Workspace *ws, Arena *arena) noexcept nogil:
    """The search's arrays; on the carving pass, the CSR offsets of the per-operator and
    per-machine ones too."""
    cdef int n = problem.operation_count + 1, m = problem.machine_count + 1
    cdef int operators = problem.operator_count + 1, k, e, i
    # Each machine's blocked intervals and every operation eligible on it.
    cdef int occupied = problem.blocked_ptr[problem.machine_count] \
        + problem.opt_ptr[problem.operation_count] + 1
    cdef int options = problem.opt_ptr[problem.operation_count] + 1
    ws.move_capacity = 16 * n + 4096
    ws.indegree = <int *>carve(arena, n, sizeof(int))
    ws.queue = <int *>carve(arena, n, sizeof(int))
    ws.tail = <i64 *>carve(arena, n, sizeof(i64))
    ws.job_arrival = <i64 *>carve(arena, n, sizeof(i64))
    ws.job_tail = <i64 *>carve(arena, n, sizeof(i64))
    ws.trial_start = <i64 *>carve(arena, n, sizeof(i64))
    ws.trial_end = <i64 *>carve(arena, n, sizeof(i64))
    ws.job_end = <i64 *>carve(arena, problem.job_count + 1, sizeof(i64))
    ws.mark = <int *>carve(arena, n, sizeof(int))
    ws.stack = <int *>carve(arena, n, sizeof(int))
    ws.path = <int *>carve(arena, n, sizeof(int))
    ws.segment_ops = <int *>carve(arena, n, sizeof(int))
    ws.segment_end = <i64 *>carve(arena, n, sizeof(i64))
    ws.priority = <double *>carve(arena, n, sizeof(double))
    ws.moves = <Move *>carve(arena, ws.move_capacity, sizeof(Move))
    ws.tabu_key = <u64 *>carve(arena, 1 << TABU_BITS, sizeof(u64))
    ws.tabu_until = <i64 *>carve(arena, 1 << TABU_BITS, sizeof(i64))
    ws.occupied_ptr = <int *>carve(arena, m, sizeof(int))
    ws.occupied_count = <int *>carve(arena, m, sizeof(int))
    ws.occupied_start = <i64 *>carve(arena, occupied, sizeof(i64))
    ws.occupied_end = <i64 *>carve(arena, occupied, sizeof(i64))
    ws.occupied_op = <int *>carve(arena, occupied, sizeof(int))
    ws.last_op = <int *>carve(arena, m, sizeof(int))
    ws.last_setup_op = <int *>carve(arena, m, sizeof(int))
    ws.attended_ptr = <int *>carve(arena, operators, sizeof(int))
    ws.attended_count = <int *>carve(arena, operators, sizeof(int))
    ws.attended_start = <i64 *>carve(arena, attendable(problem) + 1, sizeof(i64))
    ws.attended_end = <i64 *>carve(arena, attendable(problem) + 1, sizeof(i64))
    ws.decoded_operator = <int *>carve(arena, n, sizeof(int))
    ws.decode_key = <double *>carve(arena, n, sizeof(double))
    ws.heap = <int *>carve(arena, n, sizeof(int))
    ws.preds_left = <int *>carve(arena, n, sizeof(int))
    ws.ready = <int *>carve(arena, n, sizeof(int))
    ws.choice_machine = <int *>carve(arena, n, sizeof(int))
    ws.choice_start = <i64 *>carve(arena, n, sizeof(i64))
    ws.choice_end = <i64 *>carve(arena, n, sizeof(i64))
    ws.choice_operator = <int *>carve(arena, n, sizeof(int))
    ws.choice_operator_end = <i64 *>carve(arena, n, sizeof(i64))
    ws.choice_stale = <int *>carve(arena, n, sizeof(int))
    ws.machine_placed = <int *>carve(arena, m, sizeof(int))
    ws.option_placed = <int *>carve(arena, options, sizeof(int))
    ws.option_start = <i64 *>carve(arena, options, sizeof(i64))
    ws.option_end = <i64 *>carve(arena, options, sizeof(i64))
    ws.option_heap = <int *>carve(arena, options, sizeof(int))
    if arena.base == NULL:
        return
    for k in range(problem.operator_count):
        ws.attended_ptr[k + 1] = ws.attended_ptr[k]
        for i in range(problem.operation_count):
            if problem.skill[i] >= 0 and (problem.operator_skills[k] >> problem.skill[i]) & 1:
                ws.attended_ptr[k + 1] += 1
    for k in range(problem.machine_count):
        ws.occupied_ptr[k + 1] = ws.occupied_ptr[k] + problem.blocked_ptr[k + 1] \
            - problem.blocked_ptr[k]
    for i in range(problem.operation_count):
        for e in range(problem.opt_ptr[i], problem.opt_ptr[i + 1]):
            for k in range(problem.opt_machine[e] + 1, problem.machine_count + 1):
                ws.occupied_ptr[k] += 1


# ---------------------------------------------------------------- workers

cdef enum:
    # Worker w searches with the seed + w times this: its own trajectory, reproducible alone
    # (a solve with that seed and one worker is the same search).
    SEED_STRIDE = 1000003

WORKER_SEED_STRIDE = SEED_STRIDE


cdef struct Worker:
    # One independent search of a solve: its own scratch, plans, limits and counters (the
    # problem is shared, read only).
    Problem *problem
    Workspace ws
    Schedule cur, best
    SearchLimits lim
    DeadlineStats stats
    int fast, deadline_search, stop_reason, started
    i64 iterations
    double t0, limit, t_first, first_obj


cdef void *run_worker(void *arg) noexcept nogil:
    """Construct, then search (``Core.solve``), in the worker's own memory."""
    cdef Worker *w = <Worker *>arg
    cdef Problem *pb = w.problem
    w.t_first = initial(pb, &w.cur, &w.best, &w.ws, w.lim.deadline) - w.t0
    w.first_obj = w.best.objective
    copy_schedule(pb, &w.cur, &w.best)
    evaluate(pb, &w.cur, &w.ws, w.cur.start, w.cur.end)
    score(pb, &w.cur, &w.ws, w.cur.start, w.cur.end)
    if w.deadline_search and deadline_applies(pb):
        w.iterations = deadline_plan(pb, &w.cur, &w.best, &w.ws, &w.lim, w.fast, &w.stop_reason,
                                     w.t0, w.limit, &w.stats)
    else:
        w.iterations = search(pb, &w.cur, &w.best, &w.ws, &w.lim, w.fast, &w.stop_reason)
    return NULL


cdef int run_team(Worker *team, int count) noexcept nogil:
    """Worker 0 in this thread, the others each in a thread of their own (a worker whose thread
    cannot start does not run); the index of the best plan (ties to the lowest index)."""
    cdef pthread_t *threads = <pthread_t *>calloc(count, sizeof(pthread_t))
    cdef int w, chosen = 0
    for w in range(1, count):
        team[w].started = threads != NULL and pthread_create(
            &threads[w], NULL, run_worker, &team[w]) == 0
    team[0].started = 1
    run_worker(&team[0])
    for w in range(1, count):
        if team[w].started:
            pthread_join(threads[w], NULL)
            if team[w].best.rank < team[chosen].best.rank:
                chosen = w
    free(threads)
    return chosen


# ---------------------------------------------------------------- Python boundary

cdef class Core:
    """A flattened problem, ready to be solved any number of times.

    Arrays (``array.array``): ``job`` (op → job), ``pred_ptr``/``pred`` (job predecessors, CSR),
    ``opt_ptr``/``opt_machine``/``opt_duration`` (eligible machines, CSR), ``plant`` (machine →
    plant), ``transport`` (plants × plants, row-major), ``blocked_ptr``/``blocked_start``/
    ``blocked_end`` (per machine, sorted, overlaps merged, frozen operations included),
    ``calendar_on`` (per machine: 1 if it keeps a calendar, 0 if always open),
    ``calendar_ptr``/``calendar_start``/``calendar_end`` (its open periods, sorted and apart),
    ``resumable`` (per op: 1 if it may pause over closed time), ``release`` (per op),
    ``frozen_machine``/``frozen_start`` (-1 when free), ``due`` (-1 when none) and ``weight``
    (per job), ``work_left`` (per op: a priority for the constructive rules), ``families``
    (how many), ``family`` (per op, -1: none), ``setup`` (machine x family x family, row-major:
    the setup on a machine from one family to the next), ``frozen_ptr``/``frozen_end``/
    ``frozen_family`` (per machine, its frozen operations' ends, sorted, and families).
    """

    cdef Problem problem
    # Every array of ``problem``, in one allocation.
    cdef Arena arena

    def __cinit__(self, int n, int m, int nj, int plants, const int[:] job, const int[:] pred_ptr,
                  const int[:] pred, const int[:] opt_ptr, const int[:] opt_machine,
                  const i64[:] opt_duration, const int[:] plant, const i64[:] transport,
                  const int[:] blocked_ptr, const i64[:] blocked_start, const i64[:] blocked_end,
                  const int[:] calendar_on, const int[:] calendar_ptr,
                  const i64[:] calendar_start, const i64[:] calendar_end, const int[:] resumable,
                  const i64[:] release, const int[:] frozen_machine, const i64[:] frozen_start,
                  const i64[:] due, const double[:] weight, const double[:] work_left,
                  int families, const int[:] family, const i64[:] setup,
                  const int[:] frozen_ptr, const i64[:] frozen_end, const int[:] frozen_family,
                  int operators, const int[:] skill, const int[:] setup_only,
                  const u64[:] operator_skills, const int[:] operator_plant,
                  const int[:] roster_on, const int[:] roster_ptr,
                  const i64[:] roster_start, const i64[:] roster_end):
        cdef Problem *pb = &self.problem
        cdef int i, e, p, carving
        cdef int *count
        memset(pb, 0, sizeof(Problem))
        memset(&self.arena, 0, sizeof(Arena))
        pb.operation_count, pb.machine_count, pb.job_count, pb.plant_count = n, m, nj, plants
        pb.family_count = families
        pb.operator_count = operators
        # Measure, then carve and copy.
        for carving in range(2):
            if carving and arena_open(&self.arena) != 0:
                raise MemoryError()
            pb.job_of = carve_copy(&self.arena, job)
            pb.pred_ptr = carve_copy(&self.arena, pred_ptr)
            pb.preds = carve_copy(&self.arena, pred)
            pb.succ_ptr = <int *>carve(&self.arena, n + 2, sizeof(int))
            pb.succs = <int *>carve(&self.arena, pred.shape[0] + 1, sizeof(int))
            count = <int *>carve(&self.arena, n + 1, sizeof(int))
            pb.opt_ptr = carve_copy(&self.arena, opt_ptr)
            pb.opt_machine = carve_copy(&self.arena, opt_machine)
            pb.opt_duration = carve_copy(&self.arena, opt_duration)
            pb.plant = carve_copy(&self.arena, plant)
            pb.transport = carve_copy(&self.arena, transport)
            pb.blocked_ptr = carve_copy(&self.arena, blocked_ptr)
            pb.blocked_start = carve_copy(&self.arena, blocked_start)
            pb.blocked_end = carve_copy(&self.arena, blocked_end)
            pb.calendar_on = carve_copy(&self.arena, calendar_on)
            pb.calendar_ptr = carve_copy(&self.arena, calendar_ptr)
            pb.calendar_start = carve_copy(&self.arena, calendar_start)
            pb.calendar_end = carve_copy(&self.arena, calendar_end)
            pb.resumable = carve_copy(&self.arena, resumable)
            pb.release = carve_copy(&self.arena, release)
            pb.frozen_machine = carve_copy(&self.arena, frozen_machine)
            pb.frozen_start = carve_copy(&self.arena, frozen_start)
            pb.due = carve_copy(&self.arena, due)
            pb.weight = carve_copy(&self.arena, weight)
            pb.work_left = carve_copy(&self.arena, work_left)
            pb.family = carve_copy(&self.arena, family)
            pb.setup = carve_copy(&self.arena, setup)
            pb.frozen_ptr = carve_copy(&self.arena, frozen_ptr)
            pb.frozen_end = carve_copy(&self.arena, frozen_end)
            pb.frozen_family = carve_copy(&self.arena, frozen_family)
            pb.skill = carve_copy(&self.arena, skill)
            pb.setup_only = carve_copy(&self.arena, setup_only)
            pb.operator_skills = carve_copy(&self.arena, operator_skills)
            pb.operator_plant = carve_copy(&self.arena, operator_plant)
            pb.roster_on = carve_copy(&self.arena, roster_on)
            pb.roster_ptr = carve_copy(&self.arena, roster_ptr)
            pb.roster_start = carve_copy(&self.arena, roster_start)
            pb.roster_end = carve_copy(&self.arena, roster_end)
        for e in range(setup.shape[0]):
            if setup[e] != 0:
                pb.has_setups = 1
        for e in range(transport.shape[0]):
            if transport[e] != 0:
                pb.has_transport = 1
        pb.has_calendars = 1 if blocked_ptr[m] > 0 else 0
        for e in range(m):
            if calendar_on[e]:
                pb.has_calendars = 1
        # Successors (CSR) from the predecessors.
        for i in range(n):
            for e in range(pred_ptr[i], pred_ptr[i + 1]):
                pb.succ_ptr[pred[e] + 1] += 1
        for i in range(n):
            pb.succ_ptr[i + 1] += pb.succ_ptr[i]
        for i in range(n):
            for e in range(pred_ptr[i], pred_ptr[i + 1]):
                p = pred[e]
                pb.succs[pb.succ_ptr[p] + count[p]] = i
                count[p] += 1

    def __dealloc__(self):
        free(self.arena.base)

    def makespan_bound(self, i64 floor):
        """A makespan no schedule can beat, >= ``floor`` (a bound already known): every job
        path and every machine's own work stretched over the machines' open time (see
        ``open_time_bound``)."""
        cdef Problem *pb = &self.problem
        cdef Bound b
        cdef int n = pb.operation_count + 1
        cdef char *scratch = <char *>calloc(n, 4 * sizeof(int) + 5 * sizeof(i64))
        cdef i64 result
        if scratch == NULL:
            raise MemoryError()
        b.order = <int *>scratch
        b.indegree = b.order + n
        b.ops = b.indegree + n
        b.arrival = <i64 *>(scratch + 4 * n * sizeof(int))
        b.deadline = b.arrival + n
        b.ready = b.deadline + n
        b.due = b.ready + n
        b.left = b.due + n
        try:
            with nogil:
                result = open_time_bound(pb, &b, floor)
            return result
        finally:
            free(scratch)

    def solve(self, SolveParameters parameters, object reference_machine=None,
              object reference_start=None):
        """Construct, then search until the time or iteration limit or the lower bound, in
        ``parameters.workers`` independent workers, each in a thread of its own with its own
        seed (``run_team``): the best plan wins. ``reference_machine``/``reference_start``
        (typed arrays, or None): the previous plan, the warm start and the stability
        objective's reference.

        Returns ``(machines, starts, ends, setup_ends, work_starts, operators, stats)``: a start
        is the start of the operation's setup (of its work if it has none), a setup end the time
        its setup work is done, a work start the next open instant, an operator the one who
        attends it (-1: none); stats is a dict of counters and times.
        """
        cdef const int[:] rm
        cdef const i64[:] rs
        cdef Problem *pb = &self.problem
        cdef Worker *team
        cdef Worker *w
        cdef Schedule *best
        cdef Arena arena
        cdef int count = parameters.workers, carving, i, chosen = 0
        cdef i64 x
        cdef double t0 = now()
        if count < 1:
            raise ValueError(f"workers must be >= 1, got {count}")
        pb.weight_makespan = parameters.weight_makespan
        pb.weight_tardiness = parameters.weight_tardiness
        pb.weight_stability = parameters.weight_stability
        pb.tolerance = parameters.tolerance
        pb.tie_break = pb.has_calendars and parameters.weight_tardiness == 0 \
            and parameters.weight_stability == 0
        memset(&arena, 0, sizeof(Arena))
        if reference_machine is not None:
            rm = reference_machine
            rs = reference_start
        team = <Worker *>calloc(count, sizeof(Worker))
        if team == NULL:
            raise MemoryError()
        try:
            # Measure, then carve (and copy the reference).
            for carving in range(2):
                if carving and arena_open(&arena) != 0:
                    raise MemoryError()
                for i in range(count):
                    carve_workspace(pb, &team[i].ws, &arena)
                    carve_schedule(pb, &team[i].cur, &arena)
                    carve_schedule(pb, &team[i].best, &arena)
                if reference_machine is not None:
                    pb.reference_machine = carve_copy(&arena, rm)
                    pb.reference_start = carve_copy(&arena, rs)
            for i in range(count):
                w = &team[i]
                w.problem = pb
                w.ws.rng = (parameters.seed + <u64>i * SEED_STRIDE) \
                    * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL
                if w.ws.rng == 0:
                    w.ws.rng = 1
                w.fast = 0 if parameters.exact else 1
                w.deadline_search = parameters.deadline_search
                w.t0 = t0
                w.limit = parameters.time_limit
                w.lim.deadline = t0 + parameters.time_limit
                w.lim.iteration_limit = parameters.iteration_limit
                w.lim.lower_bound = parameters.lower_bound if (
                    parameters.weight_tardiness == 0 and parameters.weight_stability == 0) \
                    else -1.0
                w.lim.stall = parameters.stall
                w.lim.tenure_min = 10 + pb.job_count // (
                    pb.machine_count if pb.machine_count > 0 else 1)
                w.lim.tenure_span = 1 + w.lim.tenure_min // 2
            with nogil:
                chosen = run_team(team, count)
            best = &team[chosen].best
            machines = [best.machine[i] for i in range(pb.operation_count)]
            operators = [best.operator_of[i] if pb.operator_count else -1
                         for i in range(pb.operation_count)]
            starts = [best.start[i] for i in range(pb.operation_count)]
            ends = [best.end[i] for i in range(pb.operation_count)]
            setup_ends = []
            work_starts = []
            for i in range(pb.operation_count):
                setup_ends.append(setup_end(pb, best, i, &x))
                work_starts.append(x)
            # A bound any worker proved holds for every plan.
            bound = max(team[i].lim.lower_bound for i in range(count) if team[i].started)
            stats = {
                "iterations": sum(team[i].iterations for i in range(count)),
                "elapsed": now() - t0,
                "time_to_first": team[0].t_first,
                "first_objective": team[0].first_obj,
                "stop_reason": ("time", "iterations", "lower bound", "no move")[
                    team[chosen].stop_reason],
                "lower_bound": int(bound) if bound > 0 else 0,
                "deadline_targets": sum(team[i].stats.runs for i in range(count)),
                "deadline_improved": sum(team[i].stats.found for i in range(count)),
                "deadline_nodes": sum(team[i].stats.nodes for i in range(count)),
                "workers": sum(1 for i in range(count) if team[i].started),
                "chosen": chosen,
            }
            return machines, starts, ends, setup_ends, work_starts, operators, stats
        finally:
            free(arena.base)
            free(team)
            pb.reference_machine = NULL
            pb.reference_start = NULL


cdef double initial(Problem *problem, Schedule *cur, Schedule *best, Workspace *ws,
                    double deadline) noexcept nogil:
    """Best of a few priority rules (or the previous plan's order when warm starting), as many
    as the ``deadline`` leaves time for (the first one always). Returns the time when the first
    feasible schedule was ready.

    The last rule is the plain earliest-end dispatch without gap insertion: with calendars an
    insertion can take the room a later operation needed before a closed period, and the
    search's moves (to a critical block's ends) cannot always undo it."""
    cdef int rule, i
    cdef double first = 0
    cdef double *prio = ws.priority
    if problem.reference_machine != NULL and warm_start(problem, best, ws) == 0:
        return now()
    best.rank = INF
    for rule in range(6 if problem.has_calendars else 5):
        ws.append = rule == 5
        for i in range(problem.operation_count):
            if rule >= 4:
                break
            if rule == 0:
                prio[i] = problem.work_left[i]
            elif rule == 1:
                prio[i] = -<double>(problem.due[problem.job_of[i]]
                                    if problem.due[problem.job_of[i]] >= 0 else 1e12) \
                    + problem.work_left[i]
            else:
                prio[i] = problem.work_left[i] \
                    * (0.8 + 0.4 * (random_u64(ws) >> 11) * (1.0 / 9007199254740992.0))
        construct(problem, cur, ws, NULL if rule >= 4 else prio)
        # With operators the decoder follows the picks (ws.decode_key): it gives the same schedule.
        evaluate(problem, cur, ws, cur.start, cur.end)
        score(problem, cur, ws, cur.start, cur.end)
        if cur.rank < best.rank:
            copy_schedule(problem, best, cur)
        if rule == 0:
            first = now()
        if now() >= deadline:
            break
    for i in range(problem.operation_count):
        ws.decode_key[i] = <double>best.start[i]
    return first


