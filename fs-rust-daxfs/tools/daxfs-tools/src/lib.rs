//! daxfs userspace tools library.
