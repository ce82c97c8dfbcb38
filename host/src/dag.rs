//! dag (in progress)
