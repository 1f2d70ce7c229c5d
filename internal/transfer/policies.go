package transfer

import (
	"context"
	"slices"
	"sort"

	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/pagetoken"
	"github.com/slipway-dev/slipway/internal/store"
)

// SecurityPolicy is a server security policy: the algorithms a server
// offers. Its JSON form is the API's DescribedSecurityPolicy.
type SecurityPolicy struct {
	Fips               bool     `json:"Fips"`
	SecurityPolicyName string   `json:"SecurityPolicyName"`
	SshCiphers         []string `json:"SshCiphers,omitempty"`
	SshKexs            []string `json:"SshKexs,omitempty"`
	SshMacs            []string `json:"SshMacs,omitempty"`
	TlsCiphers         []string `json:"TlsCiphers,omitempty"`
	Type               string   `json:"Type"`
	Protocols          []string `json:"Protocols"`
}

// Algorithm sets shared by several policies.
var (
	ctrGCM      = []string{"aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"}
	chachaCtrGC = append([]string{"chacha20-poly1305@openssh.com"}, ctrGCM...)
	nistDH      = []string{"ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521", "diffie-hellman-group-exchange-sha256",
		"diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512", "diffie-hellman-group14-sha256"}
	curveDH = []string{"curve25519-sha256", "curve25519-sha256@libssh.org", "diffie-hellman-group16-sha512",
		"diffie-hellman-group18-sha512", "diffie-hellman-group-exchange-sha256"}
	kex2024 = []string{"ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521", "curve25519-sha256", "curve25519-sha256@libssh.org",
		"diffie-hellman-group-exchange-sha256", "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512"}
	pqKexs   = []string{"x25519-kyber-512r3-sha256-d00@amazon.com", "ecdh-nistp384-kyber-768r3-sha384-d00@openquantumsafe.org", "ecdh-nistp521-kyber-1024r3-sha512-d00@openquantumsafe.org"}
	etmMACs  = []string{"hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com"}
	sha2MACs = []string{"hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512"}
	tlsECDHE = []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
		"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
		"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"}
	tlsGCM = []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}
)

func policy(name string, fips bool, ciphers, kexs, macs, tls []string) SecurityPolicy {
	return SecurityPolicy{SecurityPolicyName: name, Fips: fips, SshCiphers: ciphers, SshKexs: kexs, SshMacs: macs, TlsCiphers: tls,
		Type: "SERVER", Protocols: []string{"SFTP", "FTPS"}}
}

// securityPolicies is AWS's catalogue of server security policies (see
// docs/transfer.md for the sources and what is inferred).
var securityPolicies = []SecurityPolicy{
	policy("TransferSecurityPolicy-2018-11", false, chachaCtrGC,
		[]string{"curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
			"diffie-hellman-group-exchange-sha256", "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512", "diffie-hellman-group14-sha256", "diffie-hellman-group14-sha1"},
		[]string{"umac-64-etm@openssh.com", "umac-128-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha1-etm@openssh.com",
			"umac-64@openssh.com", "umac-128@openssh.com", "hmac-sha2-256", "hmac-sha2-512", "hmac-sha1"},
		append(slices.Clone(tlsECDHE), "TLS_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_AES_256_CBC_SHA256")),
	policy("TransferSecurityPolicy-2020-06", false, chachaCtrGC, nistDH,
		[]string{"umac-128-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "umac-128@openssh.com", "hmac-sha2-256", "hmac-sha2-512"}, tlsECDHE),
	policy("TransferSecurityPolicy-FIPS-2020-06", true, ctrGCM, nistDH, sha2MACs, tlsECDHE),
	policy("TransferSecurityPolicy-2022-03", false, []string{"aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "aes256-ctr", "aes192-ctr"}, curveDH,
		[]string{"hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512", "hmac-sha2-256"}, tlsECDHE),
	policy("TransferSecurityPolicy-2023-05", false, []string{"aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "aes256-ctr", "aes192-ctr"}, curveDH,
		[]string{"hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com"}, tlsECDHE),
	policy("TransferSecurityPolicy-FIPS-2023-05", true, []string{"aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "aes256-ctr", "aes192-ctr"},
		[]string{"diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512", "diffie-hellman-group-exchange-sha256"}, etmMACs, tlsECDHE),
	policy("TransferSecurityPolicy-2024-01", false, []string{"aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr"}, kex2024, etmMACs, tlsGCM),
	policy("TransferSecurityPolicy-FIPS-2024-01", true, []string{"aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr"},
		[]string{"ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521", "diffie-hellman-group-exchange-sha256", "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512"},
		etmMACs, tlsGCM),
	policy("TransferSecurityPolicy-PQ-SSH-Experimental-2023-04", false, chachaCtrGC, append(slices.Clone(pqKexs), kex2024...), sha2MACs, tlsECDHE),
	policy("TransferSecurityPolicy-PQ-SSH-FIPS-Experimental-2023-04", true, ctrGCM, append(slices.Clone(pqKexs[1:]), nistDH...), sha2MACs, tlsECDHE),
}

// SecurityPolicyByName returns a policy of the catalogue.
func SecurityPolicyByName(name string) (SecurityPolicy, bool) {
	for _, p := range securityPolicies {
		if p.SecurityPolicyName == name {
			return p, true
		}
	}
	return SecurityPolicy{}, false
}

// DescribeSecurityPolicy returns a policy.
func (s *Service) DescribeSecurityPolicy(name string) (*SecurityPolicy, error) {
	p, ok := SecurityPolicyByName(name)
	if !ok {
		return nil, fault.Missing("SecurityPolicy", name, "Unknown security policy %s", name)
	}
	return &p, nil
}

// ListSecurityPolicies lists policy names in name order.
func (s *Service) ListSecurityPolicies(_ context.Context, scope store.Scope, maxResults int, nextToken string) ([]string, string, error) {
	tscope := tokenScope(scope, "ListSecurityPolicies", "")
	cursor, err := s.tokens.Cursor(tscope, nextToken)
	if err != nil {
		return nil, "", err
	}
	names := make([]string, 0, len(securityPolicies))
	for _, p := range securityPolicies {
		if p.SecurityPolicyName > cursor {
			names = append(names, p.SecurityPolicyName)
		}
	}
	sort.Strings(names)
	if max := pagetoken.Limit(maxResults, DefaultMaxResults); len(names) > max {
		names = names[:max]
		return names, s.tokens.Encode(tscope, names[max-1]), nil
	}
	return names, "", nil
}
