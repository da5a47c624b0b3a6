//! A file system cannot claim the inode lock without taking it.
// expect: E0624
use kernel::fs::{inode::INode, inode::Locked, FileSystem};

#[allow(dead_code)]
fn f<T: FileSystem + ?Sized>(i: &INode<T>) {
    // SAFETY: none; this must not compile.
    let l = unsafe { Locked::assume_locked(i) };
    l.set_size(0);
}
