//! shuffle (in progress)
