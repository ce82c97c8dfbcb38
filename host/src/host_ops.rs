//! host_ops (in progress)
