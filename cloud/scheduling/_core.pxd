# cython: language_level=3
# The compiled scheduling core's data, named as in the Python model (``models.py``).
#
# Operations are numbered job by job (``solver._flatten``); per-operation, per-machine and
# per-operator lists are CSR arrays: ``x_ptr[k]..x_ptr[k + 1]`` index the entries of machine
# (operation, operator) k. Every array of a ``Problem`` lives in one arena, and so does every
# array of a solve's ``Workspace`` and its two ``Schedule`` structs (see ``Arena``).

ctypedef long long i64
ctypedef unsigned long long u64


cdef struct Arena:
    # One calloc, carved into arrays: a first pass with ``base`` NULL only measures.
    char *base
    size_t used


cdef struct Problem:
    int operation_count, machine_count, job_count, plant_count
    int *job_of
    # Job precedences: each operation's predecessors and successors (CSR over operations).
    int *pred_ptr
    int *preds
    int *succ_ptr
    int *succs
    # Eligible machines and the durations there (CSR over operations).
    int *opt_ptr
    int *opt_machine
    i64 *opt_duration
    # Plant of each machine; transport time between plants, plants x plants row-major.
    int *plant
    i64 *transport
    # Per machine, the sorted intervals when it cannot take a new operation (unavailability
    # windows and frozen operations).
    int *blocked_ptr
    i64 *blocked_start
    i64 *blocked_end
    # Per machine, whether it keeps a calendar (0: always open) and its open periods.
    int *calendar_on
    int *calendar_ptr
    i64 *calendar_start
    i64 *calendar_end
    int *resumable
    i64 *release
    # Frozen operations keep their machine and start (-1 when free).
    int *frozen_machine
    i64 *frozen_start
    # Per job: due date (-1: none) and weight; per operation, the work its job still needs.
    i64 *due
    double *weight
    double *work_left
    int has_transport, has_calendars
    # Sequence-dependent setups: family per operation (-1: none), a family x family matrix per
    # machine, and the frozen operations per machine sorted by end (a setup after one depends
    # on its family).
    int has_setups, family_count
    int *family
    i64 *setup
    int *frozen_ptr
    i64 *frozen_end
    int *frozen_family
    # Operators: skill per operation (-1: none) and whether only its setup is attended; per
    # operator a skill bitmask, a plant (-1: any) and a roster (roster_on 0: always on shift).
    int operator_count
    int *operator_plant
    int *skill
    int *setup_only
    u64 *operator_skills
    int *roster_on
    int *roster_ptr
    i64 *roster_start
    i64 *roster_end
    # The objective of the solve under way (see ``SolveParameters``).
    double weight_makespan, weight_tardiness, weight_stability
    # Break makespan ties by the operations' mean end (calendars: see ``score``).
    int tie_break
    i64 tolerance
    # The previous plan when re-planning (NULL: none): machine (-1: none) and start per operation.
    int *reference_machine
    i64 *reference_start


cdef struct Schedule:
    # A machine and a duration per operation, and each machine's order as doubly linked lists.
    int *machine
    i64 *duration
    int *machine_prev
    int *machine_next
    int *machine_first
    int *machine_last
    # Decoded: the start (of the setup, if any) and end of each operation, and its operator.
    i64 *start
    i64 *end
    int *operator_of
    i64 makespan
    double tardiness
    int moved
    double objective
    # What the search compares: the objective, plus the tie-break (below one unit of it).
    double rank


cdef struct Move:
    # Operation ``op`` to ``machine`` (with ``duration`` there) right after ``after`` (-1: at
    # the front); ``right``: a same-machine move towards the end of the list.
    int op, machine, after, right
    i64 duration
    double value


cdef struct Workspace:
    # Decoding: in-degrees, the topological order, tails and job arrivals.
    int *indegree
    int *queue
    int topo_count
    i64 *tail
    i64 *job_arrival
    i64 *job_tail
    # A candidate's decoded starts and ends, and each job's end.
    i64 *trial_start
    i64 *trial_end
    i64 *job_end
    int *mark
    int stamp
    int *stack
    int *path
    int *segment_ops
    i64 *segment_end
    double *priority
    Move *moves
    int move_count, move_capacity
    # The tabu list: a lossy hash table of 2**TABU_BITS attributes and until when each holds.
    u64 *tabu_key
    i64 *tabu_until
    u64 rng
    # Constructive schedule: per machine, its occupied intervals (sorted) and the operations
    # in them, its last operation and the last one a setup follows.
    int *occupied_ptr
    int *occupied_count
    i64 *occupied_start
    i64 *occupied_end
    int *occupied_op
    int *last_op
    int *last_setup_op
    # The constructive pass places each operation after its machine's last one, not in a gap.
    int append
    # Operators' attended intervals (per operator, sorted), and the operator of each operation.
    int *attended_ptr
    int *attended_count
    i64 *attended_start
    i64 *attended_end
    int *decoded_operator
    # Decoding with operators: ready operations by this key, in a heap.
    double *decode_key
    int *heap
    # Constructive: each ready operation's best choice (machine, span, operator) and whether
    # it must be looked at again.
    int *preds_left
    int *ready
    int *choice_machine
    i64 *choice_start
    i64 *choice_end
    int *choice_operator
    i64 *choice_operator_end
    int *choice_stale
    # Constructive: per machine, how many operations were placed there so far; per eligible
    # machine of each operation (CSR as ``opt_*``), the span it last found there and that count
    # when it did (-1: never). A ready operation's span on a machine changes only when something
    # is placed there, so it looks again only at the machines that changed. Without setups, an
    # unattended operation's options are a heap by those spans (``option_heap``, CSR too).
    int *machine_placed
    int *option_placed
    i64 *option_start
    i64 *option_end
    int *option_heap


cdef struct SolveParameters:
    # Stop at the first of: the wall-clock limit, the iteration limit (-1: none), the lower
    # bound on the objective.
    double time_limit
    i64 iteration_limit
    double lower_bound
    u64 seed
    double weight_makespan, weight_tardiness, weight_stability
    # Start times within this many units of the reference's count as unmoved.
    i64 tolerance
    # Iterations without improvement before a restart from the best, perturbed.
    int stall
    # Decode the sampled candidates instead of ranking them by estimates.
    int exact
    # Job shops with closed time and the makespan alone: the tabu search, then the deadline
    # search, then the tabu search again (``deadline_plan``).
    int deadline_search
    # Independent searches, each in a thread of its own with its own seed; the best plan wins.
    int workers


cdef struct SearchLimits:
    double deadline
    i64 iteration_limit
    double lower_bound
    int stall
    int tenure_min, tenure_span
