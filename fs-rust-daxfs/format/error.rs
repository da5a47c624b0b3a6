// SPDX-License-Identifier: GPL-2.0

//! Typed errors returned by every decoder and operation of the format.

use core::fmt;

/// Everything that can go wrong while decoding, validating or modifying
/// on-disk structures. Decoders never panic: they return one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The input buffer is shorter than the record being decoded.
    Truncated,
    /// A magic number does not match; the payload names the structure.
    BadMagic(&'static str),
    /// A checksum does not match; the payload names the structure.
    BadChecksum(&'static str),
    /// The format version is not one this code understands.
    BadVersion,
    /// An incompatible (or, for writing, read-only-compatible) feature
    /// flag is set that this code does not know.
    UnsupportedFeature,
    /// A field holds a value outside its documented domain; the payload
    /// names the field.
    BadField(&'static str),
    /// A block or inode number lies outside the area it must point into.
    OutOfRange(&'static str),
    /// The structures are inconsistent with each other (for example a
    /// B+tree child at the wrong level, or keys out of order).
    Corrupt(&'static str),
    /// The requested key, name or extent does not exist.
    NotFound,
    /// The key, name or extent already exists.
    Exists,
    /// An extent would overlap an existing one.
    Overlap,
    /// No free space (blocks, inodes, directory hash slots, journal).
    NoSpace,
    /// The inode's block map is sealed: no block-map change is allowed.
    Sealed,
    /// A name is empty, contains `/` or NUL, or is `.` or `..`.
    InvalidName,
    /// A name is longer than [`super::dir::NAME_MAX`] bytes.
    NameTooLong,
    /// A B+tree would grow beyond its maximum depth.
    TooDeep,
    /// The storage backend failed (I/O error).
    Io,
    /// A transaction touches more blocks than its slots, or its log image
    /// exceeds the staging buffer or the journal log.
    TxnTooLarge,
    /// A directory to be removed or replaced still has entries.
    NotEmpty,
}

/// Result type used throughout the format.
pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    /// The positive Linux errno that best describes this error, for the
    /// kernel to return (`EUCLEAN` doubles as `EFSCORRUPTED`).
    pub const fn errno(self) -> i32 {
        match self {
            Error::NotFound => 2,            // ENOENT
            Error::Io => 5,                  // EIO
            Error::Exists => 17,             // EEXIST
            Error::InvalidName => 22,        // EINVAL
            Error::Sealed => 26,             // ETXTBSY
            Error::NoSpace => 28,            // ENOSPC
            Error::NameTooLong => 36,        // ENAMETOOLONG
            Error::UnsupportedFeature => 95, // EOPNOTSUPP
            Error::Overlap => 17,            // EEXIST
            Error::TxnTooLarge => 7,         // E2BIG
            Error::NotEmpty => 39,           // ENOTEMPTY
            Error::Truncated
            | Error::BadMagic(_)
            | Error::BadChecksum(_)
            | Error::BadVersion
            | Error::BadField(_)
            | Error::OutOfRange(_)
            | Error::Corrupt(_)
            | Error::TooDeep => 117, // EUCLEAN
        }
    }

    /// True for the errors that mean the on-disk structures are damaged
    /// (those reported as `EUCLEAN`).
    pub const fn is_corruption(self) -> bool {
        self.errno() == 117
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => write!(f, "record truncated"),
            Error::BadMagic(w) => write!(f, "bad magic in {}", w),
            Error::BadChecksum(w) => write!(f, "bad checksum in {}", w),
            Error::BadVersion => write!(f, "unsupported format version"),
            Error::UnsupportedFeature => write!(f, "unsupported feature flag"),
            Error::BadField(w) => write!(f, "invalid value in field {}", w),
            Error::OutOfRange(w) => write!(f, "{} out of range", w),
            Error::Corrupt(w) => write!(f, "corrupt structure: {}", w),
            Error::NotFound => write!(f, "not found"),
            Error::Exists => write!(f, "already exists"),
            Error::Overlap => write!(f, "extent overlaps an existing extent"),
            Error::NoSpace => write!(f, "no space left"),
            Error::Sealed => write!(f, "block map is sealed"),
            Error::InvalidName => write!(f, "invalid name"),
            Error::NameTooLong => write!(f, "name too long"),
            Error::TooDeep => write!(f, "B+tree too deep"),
            Error::Io => write!(f, "I/O error"),
            Error::TxnTooLarge => write!(f, "transaction too large"),
            Error::NotEmpty => write!(f, "directory not empty"),
        }
    }
}
