package sftpd

import (
	"encoding/hex"
	"net"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Limits AWS documents for an SFTP connection.
const (
	maxChannels      = 10
	handshakeTimeout = 30 * time.Second
)

// handle runs one SSH connection: handshake, then SFTP on each session
// channel that asks for it. Shells, exec (scp) and forwarding are refused.
func (ep *endpoint) handle(c net.Conn) {
	defer c.Close()
	defer logins.Delete(connKey(c.RemoteAddr(), c.LocalAddr()))
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	sc, chans, reqs, err := ssh.NewServerConn(c, ep.cfg.Load())
	if err != nil {
		return
	}
	defer sc.Close()
	_ = c.SetDeadline(time.Time{})
	v, ok := logins.LoadAndDelete(connKey(c.RemoteAddr(), c.LocalAddr()))
	if !ok {
		return
	}
	sess := v.(*session)
	if m := ep.sup.Metrics; m != nil {
		m.SFTPSession(1)
		defer m.SFTPSession(-1)
	}
	go ssh.DiscardRequests(reqs)
	sessionID := hex.EncodeToString(sc.SessionID())[:16]
	slots := make(chan struct{}, maxChannels)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels are supported")
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			_ = nc.Reject(ssh.ResourceShortage, "at most 10 channels per connection")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			<-slots
			continue
		}
		go func() {
			defer func() { <-slots }()
			ep.channel(ch, creqs, sess, sessionID)
		}()
	}
}

func (ep *endpoint) channel(ch ssh.Channel, reqs <-chan *ssh.Request, sess *session, sessionID string) {
	defer ch.Close()
	for req := range reqs {
		if req.Type == "subsystem" && len(req.Payload) >= 4 && string(req.Payload[4:]) == "sftp" {
			_ = req.Reply(true, nil)
			go ssh.DiscardRequests(reqs)
			fs, err := newVFS(ep.sup, ep.scope, sess, sessionID)
			if err != nil {
				ep.sup.log.Warn("sftp session refused", "server", ep.serverID, "user", sess.user.UserName, "error", err)
				return
			}
			defer fs.close()
			rs := sftp.NewRequestServer(ch, fs.handlers(), sftp.WithStartDirectory(fs.start))
			_ = rs.Serve()
			_ = rs.Close()
			return
		}
		if req.WantReply {
			_ = req.Reply(false, nil)
		}
	}
}
