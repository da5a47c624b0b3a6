//! `break_layouts` works on the guard's own inode: it takes no other inode to confuse with it.
// expect: E0061
use kernel::fs::{dax, dax::InvalidateGuard, inode::INode, FileSystem};

#[allow(dead_code)]
fn f<T: FileSystem + ?Sized>(a: &INode<T>, b: &INode<T>) -> kernel::error::Result {
    let guard = InvalidateGuard::new(a);
    dax::break_layouts(b, &guard)
}
