//! An `InvalidateGuard` (the invalidate lock) is not `Send`.
// expect: E0277
use kernel::fs::{dax::InvalidateGuard, inode::INode, FileSystem};

fn send<X: Send>(_: X) {}

#[allow(dead_code)]
fn f<T: FileSystem + ?Sized>(i: &INode<T>) {
    send(InvalidateGuard::new(i));
}
