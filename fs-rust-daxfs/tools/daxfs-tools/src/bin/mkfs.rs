// SPDX-License-Identifier: GPL-2.0

//! `mkfs.daxfs`: create a daxfs filesystem.

use std::path::PathBuf;
use std::process::exit;

use daxfs_tools::mkfs::{mkfs, summary, MkfsOptions};
use daxfs_tools::util::{getopt, parse_size, parse_uuid, random_uuid};

const USAGE: &str = "\
Usage: mkfs.daxfs [options] DEVICE [SIZE]
Create a daxfs filesystem on DEVICE (a block device such as /dev/pmem0, or a
regular file). SIZE (bytes, or with a K/M/G/T suffix) defaults to the size
of the device; a shorter regular file is extended to SIZE.

Options:
  -f              overwrite an existing filesystem or partition signature
  -L LABEL        set the volume label (up to 64 bytes)
  -U UUID         set the UUID (or \"random\")
  -N COUNT        number of inodes
  -i BYTES        bytes per inode (default 65536)
  -J BLOCKS       journal size in 4 KiB blocks (64..16384)
  -d DIR          populate the filesystem from directory DIR
  -n              dry run: print what would be done, write nothing
  -q              quiet
  -V              print the version and exit
  -h              this help
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (opts, pos) = match getopt(&args, &["-L", "-U", "-N", "-i", "-J", "-d"]) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("mkfs.daxfs: {}\n{}", e, USAGE);
            exit(1);
        }
    };
    let mut o = MkfsOptions::default();
    let bad = |what: &str, v: &str| -> ! {
        eprintln!("mkfs.daxfs: invalid {}: {}", what, v);
        exit(1);
    };
    for (k, v) in &opts {
        let v = v.as_deref().unwrap_or("");
        match k.as_str() {
            "-f" | "--force" => o.force = true,
            "-q" | "--quiet" => o.quiet = true,
            "-n" | "--dry-run" => o.dry_run = true,
            "-V" | "--version" => {
                println!(
                    "mkfs.daxfs version {} (on-disk format {}.{})",
                    env!("CARGO_PKG_VERSION"),
                    daxfs_format::superblock::VERSION_MAJOR,
                    daxfs_format::superblock::VERSION_MINOR
                );
                exit(0);
            }
            "-h" | "--help" => {
                print!("{}", USAGE);
                exit(0);
            }
            "-L" => o.label = Some(v.to_string()),
            "-U" => {
                o.uuid = Some(if v == "random" {
                    random_uuid()
                } else {
                    parse_uuid(v).unwrap_or_else(|| bad("UUID", v))
                })
            }
            "-N" => o.inode_count = Some(v.parse().unwrap_or_else(|_| bad("inode count", v))),
            "-i" => {
                o.bytes_per_inode = Some(parse_size(v).unwrap_or_else(|| bad("bytes per inode", v)))
            }
            "-J" => o.journal_blocks = Some(v.parse().unwrap_or_else(|_| bad("journal size", v))),
            "-d" => o.populate = Some(PathBuf::from(v)),
            _ => {
                eprintln!("mkfs.daxfs: unknown option {}\n{}", k, USAGE);
                exit(1);
            }
        }
    }
    match pos.as_slice() {
        [dev] => o.device = PathBuf::from(dev),
        [dev, size] => {
            o.device = PathBuf::from(dev);
            o.size = Some(parse_size(size).unwrap_or_else(|| bad("size", size)));
        }
        _ => {
            eprint!("{}", USAGE);
            exit(1);
        }
    }
    match mkfs(&o) {
        Ok(out) => {
            if !o.quiet {
                print!("{}", summary(&o.device, &out.sb));
                if o.dry_run {
                    println!("(dry run: nothing was written)");
                } else if o.populate.is_some() {
                    println!("populated: {} inodes", out.inodes);
                }
            }
        }
        Err(e) => {
            eprintln!("mkfs.daxfs: {}", e);
            exit(1);
        }
    }
}
