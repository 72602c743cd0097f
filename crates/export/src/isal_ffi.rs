//! ISA-L's one-shot deflate through its C API (`isal-rs`'s `isal_sys`), with the stream and its
//! working memory kept from call to call: the crate's only `unsafe` code.

#![allow(unsafe_code)]

use isal::isal_sys::igzip_lib as igzip;

/// ISA-L's one-shot ("stateless") deflate into a gzip member, with its stream state and
/// working memory kept between calls. (`isal::compress_into` allocates and zeroes a new
/// `level_buf` of 276–340 KiB per call.)
pub(crate) struct IsalStateless {
    stream: Box<igzip::isal_zstream>,
    level: u32,
    level_buf: Vec<u8>,
}

// SAFETY: the raw pointers in `stream` point into `level_buf` (owned alongside it) or at
// ISA-L's static tables, or are null between calls (input and output); nothing is shared
// with another thread.
unsafe impl Send for IsalStateless {}

impl IsalStateless {
    pub(crate) fn new(level: u8) -> Self {
        let (level, size) = match level {
            0 => (0, igzip::ISAL_DEF_LVL0_DEFAULT),
            1 => (1, igzip::ISAL_DEF_LVL1_DEFAULT),
            _ => (3, igzip::ISAL_DEF_LVL3_DEFAULT),
        };
        IsalStateless {
            stream: zeroed_stream(),
            level,
            level_buf: vec![0; size as usize],
        }
    }

    /// `input` as one gzip member: `output` is cleared and holds the member on return.
    ///
    /// ISA-L writes into `output`'s spare capacity, which is never zeroed first: a member of
    /// 4 MiB of JSON takes about 1 MiB at level 1, and zeroing (and so faulting in) the
    /// whole worst case per thread cost more than the compression of a member.
    pub(crate) fn compress(&mut self, input: &[u8], output: &mut Vec<u8>) -> Result<(), String> {
        let too_long = || {
            format!(
                "gzip compression (ISA-L): {} bytes is too long",
                input.len()
            )
        };
        let avail_in = u32::try_from(input.len()).map_err(|_| too_long())?;
        // What a stored (uncompressed) member takes, which igzip falls back to when its
        // output would be larger: 5 bytes per 65,535-byte block, the 18-byte gzip header and
        // trailer (isal_deflate_stateless); rounded up generously.
        let bound = input.len() + input.len() / 8192 + 64;
        output.clear();
        output.reserve(bound);
        let avail_out = u32::try_from(output.capacity()).unwrap_or(u32::MAX);
        let s = &mut *self.stream;
        // SAFETY: `s` is a valid stream (zeroed, then only ever set up by ISA-L or here);
        // `level_buf` is as large as the level requires (ISA-L's own default size for it) and
        // lives as long as `self`; ISA-L reads `avail_in` bytes from `next_in` (the input
        // slice) and writes at most `avail_out` bytes at `next_out` (the capacity of
        // `output`), both of which outlive the call. ISA-L initialises the hash tables in
        // `level_buf` itself on each new stream.
        let ret = unsafe {
            igzip::isal_deflate_stateless_init(s);
            s.level = self.level;
            s.level_buf = self.level_buf.as_mut_ptr();
            s.level_buf_size = self.level_buf.len() as u32;
            s.gzip_flag = igzip::IGZIP_GZIP as u16;
            s.flush = igzip::NO_FLUSH as u16;
            s.end_of_stream = 1;
            s.next_in = input.as_ptr().cast_mut();
            s.avail_in = avail_in;
            s.next_out = output.as_mut_ptr();
            s.avail_out = avail_out;
            igzip::isal_deflate_stateless(s)
        };
        let n = s.total_out as usize;
        // Nothing of the caller's buffers stays behind in the stream.
        s.next_in = std::ptr::null_mut();
        s.next_out = std::ptr::null_mut();
        if ret != igzip::COMP_OK as i32 {
            return Err(format!("gzip compression (ISA-L) failed: error {ret}"));
        }
        assert!(n <= output.capacity(), "ISA-L wrote past its output");
        // SAFETY: ISA-L wrote the first `n` bytes of the capacity (`total_out` counts them).
        unsafe { output.set_len(n) };
        Ok(())
    }
}

/// A stream of all-zero bytes, on the heap (it holds ISA-L's 64 KiB history buffer).
fn zeroed_stream() -> Box<igzip::isal_zstream> {
    let layout = std::alloc::Layout::new::<igzip::isal_zstream>();
    // SAFETY: the layout is not zero-sized; a null pointer is handled; `isal_zstream` is a
    // plain C struct of integers, arrays and raw pointers, for which all-zero bytes are a
    // valid value, and the allocation has its layout, as `Box::from_raw` requires.
    unsafe {
        let ptr = std::alloc::alloc_zeroed(layout).cast::<igzip::isal_zstream>();
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        Box::from_raw(ptr)
    }
}
