//! A few spare text buffers shared by the blocks of streamed CSV reads (a global pool, freed
//! once a streamed run's first pass is done).

/// A text buffer that goes back to [`SPARE`] when its last reader is done, so that the blocks of
/// a streamed read reuse a few buffers instead of taking (and the kernel zeroing) fresh memory
/// for every block: that zeroing was a tenth of a streamed run's time (perf).
pub(super) struct Block(pub(super) Vec<u8>);

/// Buffers for [`csv_blocks`](super::csv_blocks): at most [`SPARE_BUFFERS`], each of at most
/// [`SPARE_BYTES`] (a whole file read in memory is not kept).
static SPARE: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
const SPARE_BUFFERS: usize = 4;
const SPARE_BYTES: usize = 256 << 20;

impl Drop for Block {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        if buf.capacity() <= SPARE_BYTES {
            if let Ok(mut spare) = SPARE.lock() {
                if spare.len() < SPARE_BUFFERS {
                    spare.push(buf);
                }
            }
        }
    }
}

impl std::ops::Deref for Block {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

/// Frees the spare buffers (a streamed run calls it once its first pass has read every file, so
/// that they do not add to the memory of the second).
pub fn release_spare_buffers() {
    if let Ok(mut spare) = SPARE.lock() {
        spare.clear();
        spare.shrink_to_fit();
    }
}

/// An empty buffer, a spare one when there is one.
pub(super) fn spare_buffer() -> Vec<u8> {
    let mut buf = SPARE.lock().ok().and_then(|mut s| s.pop()).unwrap_or_default();
    buf.clear();
    buf
}
