//! executor (in progress)
