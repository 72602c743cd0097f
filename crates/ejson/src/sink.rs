//! [`Sink`]: appends to the caller's `Vec<u8>` through a cursor the compiler keeps in
//! registers.
//!
//! Why: `Vec::push` / `extend_from_slice` store the length back to memory after every write,
//! and a copy whose length is not a constant calls `memcpy`. The writer appends some ten small
//! pieces per element, so that bookkeeping was a large part of its time. A `Sink` holds the
//! buffer pointer, length and capacity as plain local values (the `Vec` is only written back
//! when it has to grow, and at the end), and copies short runs as fixed-size blocks (16 or 32
//! bytes written, fewer counted), which compile to a couple of vector moves.
//!
//! All `unsafe` of the crate's output path is here; the methods are safe: each checks the
//! capacity it writes into (one compare, predicted), and a block write counts at most as many
//! bytes as it wrote.

use std::ptr;

pub(crate) struct Sink<'a> {
    vec: &'a mut Vec<u8>,
    /// `vec`'s buffer and capacity, read again whenever `vec` may have reallocated.
    ptr: *mut u8,
    cap: usize,
    /// Bytes written so far. Invariant: `vec.len() <= len <= cap` and the first `len` bytes of
    /// the buffer are initialised (`vec.len()` is brought up to date by [`Sink::finish`],
    /// before growing, and around [`Sink::with_vec`]).
    len: usize,
}

/// Makes room for `additional` bytes after the first `len`; returns the new buffer and capacity.
#[cold]
#[inline(never)]
fn grow(vec: &mut Vec<u8>, len: usize, additional: usize) -> (*mut u8, usize) {
    // SAFETY: the Sink invariant — the first `len` bytes are initialised and `len <= capacity`.
    unsafe { vec.set_len(len) };
    vec.reserve(additional);
    (vec.as_mut_ptr(), vec.capacity())
}

impl<'a> Sink<'a> {
    /// A cursor at the end of `vec`.
    #[inline(always)]
    pub(crate) fn new(vec: &'a mut Vec<u8>) -> Self {
        Sink {
            ptr: vec.as_mut_ptr(),
            cap: vec.capacity(),
            len: vec.len(),
            vec,
        }
    }

    /// Sets the `Vec`'s length to what was written. Without it (an error return) the `Vec`
    /// keeps a length it had earlier (no longer than what was written, so initialised).
    #[inline(always)]
    pub(crate) fn finish(self) {
        // SAFETY: the Sink invariant.
        unsafe { self.vec.set_len(self.len) };
    }

    /// Makes sure `n` more bytes fit without reallocating.
    #[inline(always)]
    pub(crate) fn reserve(&mut self, n: usize) {
        if self.cap - self.len < n {
            (self.ptr, self.cap) = grow(self.vec, self.len, n);
        }
    }

    /// Appends all of `bytes`.
    #[inline(always)]
    pub(crate) fn put<const N: usize>(&mut self, bytes: &[u8; N]) {
        self.put_keep(bytes, N);
    }

    /// Writes the `N` bytes of `block` and keeps the first `keep` of them (`keep <= N`): one
    /// fixed-size move instead of a copy of variable length.
    #[inline(always)]
    pub(crate) fn put_keep<const N: usize>(&mut self, block: &[u8; N], keep: usize) {
        let keep = keep.min(N);
        self.reserve(N);
        // SAFETY: `reserve` made room for `N` bytes at `len` (inside the allocation); they are
        // initialised now, and `len` grows by `keep <= N`, so the invariant holds.
        unsafe {
            ptr::copy_nonoverlapping(block.as_ptr(), self.ptr.add(self.len), N);
        }
        self.len += keep;
    }

    /// Appends `bytes` (at most 32) with two fixed-size moves that may overlap (16+16, 8+8,
    /// 4+4, 2+2 or 1 byte): no `memcpy` call for short text of unknown length.
    #[inline(always)]
    pub(crate) fn put_small(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        assert!(n <= 32);
        self.reserve(32);
        let src = bytes.as_ptr();
        // SAFETY: room for 32 bytes at `len`; every read is inside `bytes` and every write
        // inside `dst[..n]`, so all of `dst[..n]` is initialised when `len` grows by `n`.
        unsafe {
            let dst = self.ptr.add(self.len);
            if n >= 16 {
                ptr::copy_nonoverlapping(src, dst, 16);
                ptr::copy_nonoverlapping(src.add(n - 16), dst.add(n - 16), 16);
            } else if n >= 8 {
                ptr::copy_nonoverlapping(src, dst, 8);
                ptr::copy_nonoverlapping(src.add(n - 8), dst.add(n - 8), 8);
            } else if n >= 4 {
                ptr::copy_nonoverlapping(src, dst, 4);
                ptr::copy_nonoverlapping(src.add(n - 4), dst.add(n - 4), 4);
            } else if n >= 2 {
                ptr::copy_nonoverlapping(src, dst, 2);
                ptr::copy_nonoverlapping(src.add(n - 2), dst.add(n - 2), 2);
            } else if n == 1 {
                *dst = *src;
            }
        }
        self.len += n;
    }

    /// Appends one byte.
    #[inline(always)]
    pub(crate) fn push(&mut self, b: u8) {
        self.put(&[b]);
    }

    /// Appends `bytes` (any length).
    #[inline(always)]
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        // SAFETY: room for `bytes.len()` bytes at `len`; `bytes` cannot overlap the spare
        // capacity of a `Vec` we hold mutably.
        unsafe {
            ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.add(self.len), bytes.len());
        }
        self.len += bytes.len();
    }

    /// Appends `src[..n]`. Short runs are written as one 16- or 32-byte block read from `src`
    /// (which must then be that long: callers pass the rest of the document), others copied.
    #[inline(always)]
    pub(crate) fn copy_prefix(&mut self, src: &[u8], n: usize) {
        if n <= 16 && src.len() >= 16 {
            self.put_keep::<16>(src[..16].try_into().unwrap(), n);
        } else if n <= 32 && src.len() >= 32 {
            self.put_keep::<32>(src[..32].try_into().unwrap(), n);
        } else {
            self.extend(&src[..n]);
        }
    }

    /// Runs `f` on the `Vec` itself (brought up to date first), for the rare paths written
    /// with `Vec` methods.
    #[inline(always)]
    pub(crate) fn with_vec<R>(&mut self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        // SAFETY: the Sink invariant.
        unsafe { self.vec.set_len(self.len) };
        let r = f(self.vec);
        self.ptr = self.vec.as_mut_ptr();
        self.cap = self.vec.capacity();
        self.len = self.vec.len();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_grow_and_finish() {
        let long: Vec<u8> = (0..100u8).collect();
        let mut v = b"ab".to_vec();
        v.shrink_to_fit();
        let mut s = Sink::new(&mut v);
        s.push(b'c');
        s.put(b"de");
        s.put_keep(b"fgXXXXXXXXXXXXXX", 2);
        s.put_keep(b"h", 5); // keep is capped at the block's length
        for n in 0..=32 {
            s.put_small(&long[100 - n..]);
        }
        s.copy_prefix(&long, 3);
        s.copy_prefix(&long, 20);
        s.copy_prefix(&long, 40);
        s.with_vec(|v| v.extend_from_slice(b"|vec|"));
        s.extend(b"end");
        s.finish();
        let mut want = b"abcdefgh".to_vec();
        for n in 0..=32 {
            want.extend_from_slice(&long[100 - n..]);
        }
        want.extend_from_slice(&long[..3]);
        want.extend_from_slice(&long[..20]);
        want.extend_from_slice(&long[..40]);
        want.extend_from_slice(b"|vec|end");
        assert_eq!(v, want);
    }

    #[test]
    fn unfinished_sink_leaves_an_initialised_prefix() {
        let mut v = Vec::new();
        {
            let mut s = Sink::new(&mut v);
            s.put(b"0123456789");
            s.reserve(1000); // grows: the Vec's length is brought up to date
            s.put(b"lost");
        }
        assert_eq!(v, b"0123456789");
    }
}
