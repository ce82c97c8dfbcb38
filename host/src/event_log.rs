//! event_log (in progress)
