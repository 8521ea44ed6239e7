//! The allocator keeps large buffers in their own mappings after one was
//! freed (glibc would otherwise serve the next one from the heap). Alone in
//! its binary, so no other test allocates meanwhile.
#![allow(unsafe_code)] // reading the allocator's statistics through libc
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn a_large_buffer_allocated_after_another_was_freed_is_still_mapped_on_its_own() {
    const SIZE: usize = 1024 * 1024;
    fn mapped_bytes() -> usize {
        // SAFETY: mallinfo2 only reads allocator statistics.
        unsafe { libc::mallinfo2() }.hblkhd
    }
    assert!(meetings_operator::allocator::return_large_buffers_to_the_system());
    let first = std::hint::black_box(vec![1u8; SIZE]);
    drop(first);
    let before = mapped_bytes();
    let second = std::hint::black_box(vec![2u8; SIZE]);
    let during = mapped_bytes();
    drop(second);
    assert!(
        during >= before + SIZE,
        "a 1 MiB buffer allocated after another was freed came from the heap \
         (mapped bytes {before} -> {during})"
    );
    assert!(mapped_bytes() < during, "freeing it unmapped nothing");
}
