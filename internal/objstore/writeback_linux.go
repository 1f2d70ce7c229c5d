package objstore

import (
	"os"

	"golang.org/x/sys/unix"
)

// writeback starts the kernel writing [off, off+n) of f to disk now, and
// waits for the range written before it. A long upload then reaches disk
// as it arrives, so the fsync before commit finds little left to do, and
// dirty pages never pile up past two windows.
func writeback(f *os.File, prevOff, prevN, off, n int64) {
	fd := int(f.Fd())
	_ = unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WRITE)
	if prevN > 0 {
		_ = unix.SyncFileRange(fd, prevOff, prevN, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
	}
}
