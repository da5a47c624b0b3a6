//! Control: the uses the abstractions allow must compile with the same command, so that the
//! failures of the other snippets are the ones they name.
// expect: ok
use kernel::fs::{dax::InvalidateGuard, inode::INode, FileSystem};

#[allow(dead_code)]
fn size_under_lock<T: FileSystem + ?Sized>(i: &INode<T>) {
    let guard = i.lock();
    guard.set_size(0);
    guard.set_nlink(1);
    guard.truncate_setsize(0);
    let _ = InvalidateGuard::new(i);
}

#[allow(dead_code)]
fn send<X: Send>(_: X) {}

#[allow(dead_code)]
fn inode_ref_is_send<T: FileSystem + ?Sized>(i: &INode<T>) {
    send(i);
}
