package sftpd

import (
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pkg/sftp"
)

// efsWriter opens a file for writing inside the session's root; it belongs
// to the user's POSIX identity.
func (v *vfs) efsWriter(l *loc, flags sftp.FileOpenFlags) (io.WriterAt, error) {
	mode := os.O_WRONLY | os.O_CREATE
	if flags.Trunc {
		mode |= os.O_TRUNC
	}
	if flags.Excl {
		mode |= os.O_EXCL
	}
	f, err := l.root.OpenFile(l.rel, mode, 0o644)
	if err != nil {
		return nil, storeErr(err)
	}
	v.own(l)
	return &efsFile{File: f, v: v, l: l}, nil
}

// own gives a new file or directory the user's uid and gid (when Slipway may
// change ownership, that is when it runs as root).
func (v *vfs) own(l *loc) {
	if p := v.user.PosixProfile; p != nil && os.Geteuid() == 0 {
		_ = l.root.Lchown(l.rel, int(p.Uid), int(p.Gid))
	}
}

type efsFile struct {
	*os.File
	v       *vfs
	l       *loc
	written int64
	partial bool
}

func (f *efsFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	f.v.sup.countBytes("in", n)
	if end := off + int64(n); end > f.written {
		f.written = end
	}
	return n, err
}

func (f *efsFile) TransferError(error) { f.partial = true }

func (f *efsFile) Close() error {
	if err := f.File.Close(); err != nil {
		return err
	}
	fi, err := f.l.root.Stat(f.l.rel)
	if err == nil {
		// Hooks see /<fs-id>/<path>, not where the file system lives here.
		p := path.Join("/", filepath.ToSlash(strings.TrimPrefix(f.l.root.Name(), f.v.sup.efsDir)), f.l.rel)
		f.v.uploaded(nil, p, fi.Size(), f.partial)
	}
	return nil
}

// efsCmd runs a file command with POSIX semantics inside the root. Links
// are refused for LOGICAL users (AWS does not resolve them there).
func (v *vfs) efsCmd(r *sftp.Request, l *loc) error {
	switch r.Method {
	case "Setstat":
		a := r.Attributes()
		fl := r.AttrFlags()
		if fl.Permissions {
			if err := l.root.Chmod(l.rel, a.FileMode().Perm()); err != nil {
				return storeErr(err)
			}
		}
		if fl.Acmodtime {
			if err := l.root.Chtimes(l.rel, a.AccessTime(), a.ModTime()); err != nil {
				return storeErr(err)
			}
		}
		if fl.UidGid {
			if err := l.root.Lchown(l.rel, int(a.UID), int(a.GID)); err != nil {
				return storeErr(err)
			}
		}
		return nil
	case "Mkdir":
		if err := l.root.Mkdir(l.rel, 0o755); err != nil {
			return storeErr(err)
		}
		v.own(l)
		return nil
	case "Rmdir", "Remove":
		return storeErr(l.root.Remove(l.rel))
	case "Rename":
		to, err := v.resolve(r.Target)
		if err != nil {
			return storeErr(err)
		}
		if to.root != l.root {
			return sftp.ErrSSHFxOpUnsupported
		}
		return storeErr(l.root.Rename(l.rel, to.rel))
	case "Symlink":
		if v.logical {
			return sftp.ErrSSHFxOpUnsupported
		}
		// r.Filepath is the link target, r.Target the new link.
		to, err := v.resolve(r.Target)
		if err != nil || to.root != l.root {
			return sftp.ErrSSHFxOpUnsupported
		}
		return storeErr(l.root.Symlink(l.rel, to.rel))
	}
	return sftp.ErrSSHFxOpUnsupported
}
