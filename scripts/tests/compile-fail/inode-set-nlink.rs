//! The link count of an inode is set only through `Locked`: not on a bare inode.
// expect: E0599
use kernel::fs::{inode::INode, FileSystem};

#[allow(dead_code)]
fn f<T: FileSystem + ?Sized>(i: &INode<T>) {
    i.set_nlink(0);
}
