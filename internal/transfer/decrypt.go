package transfer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/slipway-dev/slipway/internal/objstore"
)

// PGPSecret is a DECRYPT key secret, shaped as the Secrets Manager secret
// AWS reads: up to three private keys with their passphrases.
type PGPSecret struct {
	PGPPrivateKey  string `json:"PGPPrivateKey"`
	PGPPassphrase  string `json:"PGPPassphrase,omitempty"`
	PGPPrivateKey2 string `json:"PGPPrivateKey2,omitempty"`
	PGPPassphrase2 string `json:"PGPPassphrase2,omitempty"`
	PGPPrivateKey3 string `json:"PGPPrivateKey3,omitempty"`
	PGPPassphrase3 string `json:"PGPPassphrase3,omitempty"`
}

// KeySource finds DECRYPT keys by their secret names
// (aws/transfer/<server-id>/<user> and aws/transfer/<server-id>/@pgp-default):
// first among the inline secrets of the --config file, then as files under
// Dir at the secret's name, holding the secret's JSON or an armored key.
type KeySource struct {
	Dir     string               `json:"dir,omitempty"`
	Secrets map[string]PGPSecret `json:"secrets,omitempty"`
}

var errNoKey = errors.New("no PGP key")

// lookup returns the secret called name.
func (k *KeySource) lookup(name string) (*PGPSecret, error) {
	if k == nil {
		return nil, errNoKey
	}
	if s, ok := k.Secrets[name]; ok {
		return &s, nil
	}
	if k.Dir == "" {
		return nil, errNoKey
	}
	root, err := os.OpenRoot(k.Dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	b, err := root.ReadFile(filepath.FromSlash(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoKey
	} else if err != nil {
		return nil, err
	}
	var s PGPSecret
	if json.Unmarshal(b, &s) == nil && s.PGPPrivateKey != "" {
		return &s, nil
	}
	return &PGPSecret{PGPPrivateKey: string(b)}, nil
}

// keyring returns the keys for a user of a server: the user's secret, else
// the server's @pgp-default.
func (k *KeySource) keyring(serverID, user string) (openpgp.EntityList, string, error) {
	var names []string
	for _, n := range []string{user, "@pgp-default"} {
		names = append(names, "aws/transfer/"+serverID+"/"+n)
	}
	for _, name := range names {
		s, err := k.lookup(name)
		if errors.Is(err, errNoKey) {
			continue
		} else if err != nil {
			return nil, name, err
		}
		var ring openpgp.EntityList
		for _, p := range [][2]string{{s.PGPPrivateKey, s.PGPPassphrase}, {s.PGPPrivateKey2, s.PGPPassphrase2}, {s.PGPPrivateKey3, s.PGPPassphrase3}} {
			if p[0] == "" {
				continue
			}
			el, err := readKeys(p[0])
			if err != nil {
				return nil, name, fmt.Errorf("secret %s: %w", name, err)
			}
			for _, e := range el {
				if p[1] != "" {
					if err := e.DecryptPrivateKeys([]byte(p[1])); err != nil {
						return nil, name, fmt.Errorf("secret %s: the passphrase does not unlock the key: %w", name, err)
					}
				}
			}
			ring = append(ring, el...)
		}
		return ring, name, nil
	}
	return nil, strings.Join(names, " or "), errNoKey
}

func readKeys(text string) (openpgp.EntityList, error) {
	if strings.Contains(text, "-----BEGIN PGP") {
		return openpgp.ReadArmoredKeyRing(strings.NewReader(text))
	}
	return openpgp.ReadKeyRing(strings.NewReader(text))
}

// decryptedName drops a PGP extension, as AWS names decrypted files in a
// folder destination.
func decryptedName(name string) string {
	for _, ext := range []string{".gpg", ".pgp", ".asc"} {
		if strings.HasSuffix(strings.ToLower(name), ext) && len(name) > len(ext) {
			return name[:len(name)-len(ext)]
		}
	}
	return name
}

// maxDecrypted is AWS's limit on a decrypted file (10 GB).
const maxDecrypted = 10_000_000_000

func (s *Service) decryptStep(ctx context.Context, ex *Execution, d *DecryptStepDetails, src File, retry bool) stepOutcome {
	dst := d.DestinationFileLocation
	if dst == nil || (src.Domain == DomainS3) != (dst.S3FileLocation != nil) {
		return stepFailed(ErrBadRequest, "The DECRYPT destination must use the same storage type as the source file.")
	}
	ring, secret, err := s.PGPKeys.keyring(ex.ServerID, ex.UserName)
	if errors.Is(err, errNoKey) {
		return stepFailed(ErrNotFound, "No PGP private key found in secret %s.", secret)
	} else if err != nil {
		return stepFailed(ErrBadRequest, "%v", err)
	}
	var to File
	if dst.S3FileLocation != nil {
		to = File{Domain: DomainS3, Bucket: dst.S3FileLocation.Bucket, Key: destinationKey(dst.S3FileLocation.Key, ex, decryptedName(fileName(src)))}
		if err := s.sameRegion(ctx, src.Bucket, to.Bucket); err != nil {
			return *err
		}
	} else {
		p := destinationKey(dst.EfsFileLocation.Path, ex, decryptedName(fileName(src)))
		to = File{Domain: DomainEFS, FileSystemID: dst.EfsFileLocation.FileSystemID, Path: "/" + strings.TrimPrefix(p, "/")}
	}
	in, closeIn, errOut := s.openSource(ctx, src)
	if errOut != nil {
		return *errOut
	}
	defer closeIn()
	// Decrypt into a spool file first: a damaged message or a wrong key
	// then writes nothing, and the result's hash is known before the
	// destination is touched.
	spool, err := os.CreateTemp("", "slipway-decrypt-")
	if err != nil {
		return stepFailed(ErrInternal, "%v", err)
	}
	defer func() { spool.Close(); os.Remove(spool.Name()) }()
	sum := md5.New()
	if err := decryptTo(io.MultiWriter(spool, sum), in, ring); err != nil {
		return stepFailed(ErrBadRequest, "Failed to decrypt %s: %v", describeFile(src), err)
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return stepFailed(ErrInternal, "%v", err)
	}
	overwrite := d.OverwriteExisting == "TRUE"
	if !overwrite && to.Domain == DomainS3 {
		if o, err := s.Objects.Head(ctx, to.Bucket, to.Key); err == nil {
			if retry && etagOf(o) == hex.EncodeToString(sum.Sum(nil)) {
				to.ETag = etagOf(o) // this step's own write, before a crash
				return stepOutcome{file: &to}
			}
			return stepFailed(ErrAlreadyExists, "The destination s3://%s/%s already exists and OverwriteExisting is FALSE.", to.Bucket, to.Key)
		} else if !errors.Is(err, objstore.ErrNoSuchKey) {
			return objectError(err, to)
		}
	}
	if !overwrite && to.Domain == DomainEFS && retry {
		overwrite = true // a retry rewrites its own output (the same bytes)
	}
	f, out := s.writeFile(ctx, ex, to, spool, overwrite)
	if out != nil {
		return *out
	}
	return stepOutcome{file: f}
}

// openSource opens a step's source file, checking an S3 object's ETag.
func (s *Service) openSource(ctx context.Context, src File) (io.Reader, func(), *stepOutcome) {
	if src.Domain == DomainEFS {
		root, rel, err := s.efsRoot(src)
		if err != nil {
			out := objectError(err, src)
			return nil, nil, &out
		}
		f, err := root.Open(rel)
		root.Close()
		if err != nil {
			out := objectError(err, src)
			return nil, nil, &out
		}
		return f, func() { f.Close() }, nil
	}
	o, r, err := s.Objects.Open(ctx, src.Bucket, src.Key)
	if err != nil {
		out := objectError(err, src)
		return nil, nil, &out
	}
	if src.ETag != "" && etagOf(o) != src.ETag {
		r.Close()
		out := objectError(objstore.ErrPreconditionETag, src)
		return nil, nil, &out
	}
	return r, func() { r.Close() }, nil
}

// decryptTo writes the plaintext of an OpenPGP message (binary or armored).
func decryptTo(w io.Writer, r io.Reader, ring openpgp.EntityList) error {
	br := bufio.NewReader(r)
	head, _ := br.Peek(64)
	var msg io.Reader = br
	if bytes.Contains(head, []byte("-----BEGIN PGP")) {
		block, err := armor.Decode(br)
		if err != nil {
			return err
		}
		msg = block.Body
	}
	md, err := openpgp.ReadMessage(msg, ring, nil, nil)
	if err != nil {
		return err
	}
	n, err := io.Copy(w, io.LimitReader(md.UnverifiedBody, maxDecrypted+1))
	if err != nil {
		return err
	}
	if n > maxDecrypted {
		return fmt.Errorf("the decrypted file is larger than 10 GB")
	}
	if md.SignatureError != nil && md.IsSigned && md.SignedBy != nil {
		return md.SignatureError
	}
	return nil
}
