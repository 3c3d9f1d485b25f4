"""Technician visits planned as routes: the problem (:mod:`problem`), the OR-Tools planner
(:mod:`planner`), today's greedy assignment as a baseline (:mod:`greedy`), the independent
checker (:mod:`validator`), and the re-planning of the network's tickets (:mod:`flows`)."""
