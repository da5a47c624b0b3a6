//! A `Locked` inode is not `Send`: the proof belongs to the task holding the lock.
// expect: E0277
use kernel::fs::{inode::Locked, FileSystem};

fn send<X: Send>(_: X) {}

#[allow(dead_code)]
fn f<T: FileSystem + ?Sized>(l: Locked<'_, T>) {
    send(l);
}
