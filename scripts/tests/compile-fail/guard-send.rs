//! An `INodeGuard` (i_rwsem) is not `Send`: an rwsem is released by the task that took it.
// expect: E0277
use kernel::fs::{inode::INode, FileSystem};

fn send<X: Send>(_: X) {}

#[allow(dead_code)]
fn f<T: FileSystem + ?Sized>(i: &INode<T>) {
    send(i.lock());
}
