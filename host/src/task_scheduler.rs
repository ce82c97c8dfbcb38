//! task_scheduler (in progress)
