//! [`Sink`]: appends to the caller's `Vec<u8>` through a cursor the compiler keeps in
//! registers.
//!
//! Why: `Vec::push` / `extend_from_slice` store the length back to memory after every write,
//! and a copy whose length is not a constant calls `memcpy`. The writer appends some ten small
//! pieces per element, so that bookkeeping was a large part of its time. A `Sink` holds a
//! cursor and the end of the buffer as plain local values (the `Vec` is only written back when
//! it has to grow, and at the end), and copies short runs as fixed-size blocks (8, 16 or 32
//! bytes written, fewer counted), which compile to a move or two.
//!
//! Two kinds of writes:
//! - the safe methods ([`Sink::put`], [`Sink::put_keep`], [`Sink::extend`]…) each check the
//!   capacity they write into (one compare, predicted);
//! - the `unsafe` `*_unchecked` ones check nothing: they must fall inside the room made by the
//!   last [`Sink::reserve`] (checked writes in between use up part of it, but never shrink
//!   it). The writer reserves [`ELEMENT_ROOM`] bytes once per element and
//!   writes the comma, a short key and every fixed-size value that way (see `writer.rs`). The
//!   capacity of a `Vec` never shrinks, so a room stays valid while other writes (which may
//!   reallocate) use part of it. Debug builds (the tests) check every unchecked write against
//!   the room.

use std::ptr;

/// The room the writer reserves per element, for the comma, a key of up to 15 bytes and any
/// fixed-size value, in the longest spelling: `,"` + a 16-byte key block + `":` (ending at
/// most 19 bytes in), then `{"$date":{"$numberLong":"-9223372036854775808"}}` (49, its digits
/// written as 8-byte blocks that end within the text). 128 leaves ample margin.
pub(crate) const ELEMENT_ROOM: usize = 128;

pub(crate) struct Sink<'a> {
    vec: &'a mut Vec<u8>,
    /// Where the next byte goes, and the end of `vec`'s allocation; read again whenever `vec`
    /// may have reallocated. Invariant: `vec`'s buffer `base` has its first `cur - base` bytes
    /// initialised, `base + vec.len() <= cur <= end = base + vec.capacity()` (`vec.len()` is
    /// brought up to date by [`Sink::finish`], before growing, and around [`Sink::with_vec`]).
    cur: *mut u8,
    end: *mut u8,
    /// Debug builds: the length up to which the last `reserve` made room.
    #[cfg(debug_assertions)]
    room_end: usize,
}

/// Makes room for `additional` bytes after the first `len`; returns the new cursor and end.
#[cold]
#[inline(never)]
fn grow(vec: &mut Vec<u8>, len: usize, additional: usize) -> (*mut u8, *mut u8) {
    // SAFETY: the Sink invariant — the first `len` bytes are initialised and `len <= capacity`.
    unsafe { vec.set_len(len) };
    vec.reserve(additional);
    let base = vec.as_mut_ptr();
    // SAFETY: `len` and the capacity are within the allocation.
    unsafe { (base.add(len), base.add(vec.capacity())) }
}

impl<'a> Sink<'a> {
    /// A cursor at the end of `vec`.
    #[inline(always)]
    pub(crate) fn new(vec: &'a mut Vec<u8>) -> Self {
        let (len, cap) = (vec.len(), vec.capacity());
        let base = vec.as_mut_ptr();
        Sink {
            // SAFETY: `len <= cap`, so `base + len` is within the allocation (or `base` itself
            // when `len` is 0, an offset of 0 being valid even for a dangling pointer).
            cur: unsafe { base.add(len) },
            // SAFETY: `cap` bytes are allocated at `base`, so `base + cap` is at most one past
            // the end of the allocation (`base` itself when nothing is allocated).
            end: unsafe { base.add(cap) },
            vec,
            #[cfg(debug_assertions)]
            room_end: 0,
        }
    }

    /// Bytes written so far, counting those the `Vec` already held.
    #[inline(always)]
    fn len(&self) -> usize {
        self.cur as usize - self.vec.as_ptr() as usize
    }

    /// Sets the `Vec`'s length to what was written. Without it (an error return) the `Vec`
    /// keeps a length it had earlier (no longer than what was written, so initialised).
    #[inline(always)]
    pub(crate) fn finish(self) {
        let len = self.len();
        // SAFETY: the Sink invariant.
        unsafe { self.vec.set_len(len) };
    }

    /// Makes sure `n` more bytes fit without reallocating.
    #[inline(always)]
    fn ensure(&mut self, n: usize) {
        if (self.end as usize - self.cur as usize) < n {
            (self.cur, self.end) = grow(self.vec, self.len(), n);
        }
    }

    /// Makes room for `n` more bytes, which `*_unchecked` writes may then fill.
    #[inline(always)]
    pub(crate) fn reserve(&mut self, n: usize) {
        self.ensure(n);
        #[cfg(debug_assertions)]
        {
            self.room_end = self.len() + n;
        }
    }

    /// Writes the `N` bytes of `block` and keeps the first `keep` of them: one fixed-size move
    /// instead of a copy of variable length.
    ///
    /// # Safety
    /// `keep <= N`, and the `N` bytes must fall inside the room made by the last
    /// [`Sink::reserve`] (not yet used by other writes).
    #[inline(always)]
    pub(crate) unsafe fn put_unchecked<const N: usize>(&mut self, block: &[u8; N], keep: usize) {
        #[cfg(debug_assertions)]
        assert!(
            self.len() + N <= self.room_end,
            "unchecked write past the room"
        );
        // SAFETY: passed on to the caller.
        unsafe { self.write_block(block, keep) };
    }

    /// # Safety
    /// `keep <= N`, and `N` bytes of capacity at the cursor.
    #[inline(always)]
    unsafe fn write_block<const N: usize>(&mut self, block: &[u8; N], keep: usize) {
        debug_assert!(keep <= N, "keep {keep} of {N}");
        debug_assert!(self.end as usize - self.cur as usize >= N);
        // SAFETY: the `N` bytes are inside the allocation, initialised now, and the cursor
        // moves over `keep <= N` of them, so the invariant holds.
        unsafe {
            ptr::copy_nonoverlapping(block.as_ptr(), self.cur, N);
            self.cur = self.cur.add(keep);
        }
    }

    /// Appends `bytes` (at most 32) with two fixed-size moves that may overlap (16+16, 8+8,
    /// 4+4, 2+2 or 1 byte): no `memcpy` call for short text of unknown length.
    ///
    /// # Safety
    /// `bytes.len()` bytes must fall inside the room made by the last [`Sink::reserve`].
    #[inline(always)]
    pub(crate) unsafe fn put_small_unchecked(&mut self, bytes: &[u8]) {
        #[cfg(debug_assertions)]
        assert!(
            self.len() + bytes.len() <= self.room_end,
            "unchecked write past the room"
        );
        // SAFETY: passed on to the caller.
        unsafe { self.write_small(bytes) };
    }

    /// # Safety
    /// `bytes.len() <= 32`, and that many bytes of capacity at the cursor.
    #[inline(always)]
    unsafe fn write_small(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        debug_assert!(n <= 32 && self.end as usize - self.cur as usize >= n);
        let (src, dst) = (bytes.as_ptr(), self.cur);
        // SAFETY: every read is inside `bytes`, every write inside `dst[..n]` (in capacity),
        // and together the writes cover all of `dst[..n]` before the cursor moves over it.
        unsafe {
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
            self.cur = dst.add(n);
        }
    }

    /// Appends all of `bytes`.
    #[inline(always)]
    pub(crate) fn put<const N: usize>(&mut self, bytes: &[u8; N]) {
        self.put_keep(bytes, N);
    }

    /// [`Sink::put_unchecked`], checked: writes `block`, keeps `keep` (at most `N`) bytes.
    #[inline(always)]
    pub(crate) fn put_keep<const N: usize>(&mut self, block: &[u8; N], keep: usize) {
        self.ensure(N);
        // SAFETY: `N` bytes of capacity were just ensured; `keep` is capped at `N`.
        unsafe { self.write_block(block, keep.min(N)) };
    }

    /// Appends one byte.
    #[inline(always)]
    pub(crate) fn push(&mut self, b: u8) {
        self.put(&[b]);
    }

    /// Appends `bytes` (any length).
    #[inline(always)]
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.ensure(bytes.len());
        // SAFETY: room for `bytes.len()` bytes at the cursor; `bytes` cannot overlap the spare
        // capacity of a `Vec` we hold mutably.
        unsafe {
            ptr::copy_nonoverlapping(bytes.as_ptr(), self.cur, bytes.len());
            self.cur = self.cur.add(bytes.len());
        }
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
    /// with `Vec` methods. `f` must not shrink the `Vec`'s capacity (rooms rely on it).
    #[inline(always)]
    pub(crate) fn with_vec<R>(&mut self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let len = self.len();
        // SAFETY: the Sink invariant.
        unsafe { self.vec.set_len(len) };
        let cap = self.vec.capacity();
        let r = f(self.vec);
        debug_assert!(self.vec.capacity() >= cap, "capacity shrank");
        let (len, cap) = (self.vec.len(), self.vec.capacity());
        let base = self.vec.as_mut_ptr();
        // SAFETY: `len <= cap`, both within the allocation.
        unsafe {
            self.cur = base.add(len);
            self.end = base.add(cap);
        }
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
            s.reserve(n);
            // SAFETY: n bytes, just reserved.
            unsafe { s.put_small_unchecked(&long[100 - n..]) };
        }
        s.reserve(40);
        // SAFETY: within the 40 bytes just reserved (8 + 8 + 3 + 16).
        unsafe {
            s.put_unchecked(b"12345678", 3);
            s.put_unchecked(b"45678XYZ", 5);
            s.put_small_unchecked(b"90!");
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
        want.extend_from_slice(b"1234567890!");
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

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "past the room")]
    fn debug_builds_catch_unchecked_writes_past_the_room() {
        let mut v = Vec::with_capacity(100);
        let mut s = Sink::new(&mut v);
        s.reserve(10);
        // SAFETY: not safe — the assertion stops it before it writes (capacity is 100 anyway).
        unsafe {
            s.put_unchecked(b"12345678", 8);
            s.put_unchecked(b"12345678", 8);
        }
    }
}
