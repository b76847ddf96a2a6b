package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"github.com/redis/go-redis/v9"

	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// pki writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, as PEM files.
type pki struct{ ca, serverCert, serverKey, clientCert, clientKey string }

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "threadsync test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
			KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		return write(name+".crt", "CERTIFICATE", der), write(name+".key", "EC PRIVATE KEY", kder)
	}
	p := pki{ca: write("ca.crt", "CERTIFICATE", caDER)}
	p.serverCert, p.serverKey = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return p
}

func startNATS(t *testing.T, o *server.Options) string {
	t.Helper()
	o.Host, o.Port, o.NoLog, o.NoSigs = "127.0.0.1", server.RANDOM_PORT, true, true
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s.ClientURL()
}

func connects(t *testing.T, url string, cfg *Config) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	nc, err := connectNATS(ctx, url, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return false
	}
	nc.Close()
	return true
}

// TestNATSAuthAndTLS connects to servers requiring a user and password over
// mutual TLS, and an NKey, with the settings a user would give.
func TestNATSAuthAndTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	serverTLS, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: p.serverCert, KeyFile: p.serverKey, CaFile: p.ca, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	url := startNATS(t, &server.Options{Username: "ts", Password: "pw-1", TLS: true, TLSConfig: serverTLS, TLSVerify: true})
	good := &Config{NATSUser: "ts", NATSPassword: "pw-1", NATSTLSCA: p.ca, NATSTLSCert: p.clientCert, NATSTLSKey: p.clientKey}
	if !connects(t, url, good) {
		t.Fatal("no connection with user, password, CA and client certificate")
	}
	for name, cfg := range map[string]*Config{
		"wrong password":     {NATSUser: "ts", NATSPassword: "nope", NATSTLSCA: p.ca, NATSTLSCert: p.clientCert, NATSTLSKey: p.clientKey},
		"no client cert":     {NATSUser: "ts", NATSPassword: "pw-1", NATSTLSCA: p.ca},
		"unknown server CA":  {NATSUser: "ts", NATSPassword: "pw-1", NATSTLSCert: p.clientCert, NATSTLSKey: p.clientKey},
		"no credentials":     {NATSTLSCA: p.ca, NATSTLSCert: p.clientCert, NATSTLSKey: p.clientKey},
		"client cert as key": {NATSUser: "ts", NATSPassword: "pw-1", NATSTLSCA: p.ca, NATSTLSCert: p.clientCert, NATSTLSKey: p.clientCert},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if connects(t, url, cfg) {
				t.Error("connected")
			}
		})
	}

	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	seedFile := filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	nkURL := startNATS(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	if !connects(t, nkURL, &Config{NATSNKey: seedFile}) {
		t.Fatal("no connection with the NKey seed")
	}
	if connects(t, nkURL, &Config{}) {
		t.Fatal("connected to an NKey server without a key")
	}
}

// TestNATSCredentialsFile connects to a server in operator mode (accounts
// and users as signed JWTs) with a user's credentials file, as NGS or a
// decentralised NATS deployment issues them.
func TestNATSCredentialsFile(t *testing.T) {
	t.Parallel()
	okp, _ := nkeys.CreateOperator()
	opub, _ := okp.PublicKey()
	operator := jwt.NewOperatorClaims(opub)
	akp, _ := nkeys.CreateAccount()
	apub, _ := akp.PublicKey()
	accountJWT, err := jwt.NewAccountClaims(apub).Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	ukp, _ := nkeys.CreateUser()
	upub, _ := ukp.PublicKey()
	userJWT, err := jwt.NewUserClaims(upub).Encode(akp)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := ukp.Seed()
	creds, err := jwt.FormatUserConfig(userJWT, seed)
	if err != nil {
		t.Fatal(err)
	}
	credsFile := filepath.Join(t.TempDir(), "threadsync.creds")
	if err := os.WriteFile(credsFile, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	resolver := &server.MemAccResolver{}
	if err := resolver.Store(apub, accountJWT); err != nil {
		t.Fatal(err)
	}
	url := startNATS(t, &server.Options{TrustedOperators: []*jwt.OperatorClaims{operator}, AccountResolver: resolver})
	if !connects(t, url, &Config{NATSCreds: credsFile}) {
		t.Fatal("no connection with the credentials file")
	}
	if connects(t, url, &Config{}) {
		t.Fatal("connected to an operator-mode server without credentials")
	}
	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	forged, _ := jwt.FormatUserConfig(userJWT, otherSeed) // the JWT with someone else's key
	forgedFile := filepath.Join(t.TempDir(), "forged.creds")
	if err := os.WriteFile(forgedFile, forged, 0o600); err != nil {
		t.Fatal(err)
	}
	if connects(t, url, &Config{NATSCreds: forgedFile}) {
		t.Fatal("connected with a user JWT and a seed that does not match it")
	}
}

// TestRedisACLAndTLS connects to a redis-server that only speaks TLS with
// client certificates and only knows an ACL user.
func TestRedisACLAndTLS(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found (make test installs it): %v", err)
	}
	p := newPKI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--tls-cert-file", p.serverCert, "--tls-key-file", p.serverKey, "--tls-ca-cert-file", p.ca,
		"--tls-auth-clients", "yes", "--save", "", "--appendonly", "no", "--dir", t.TempDir(),
		"--user", "default", "off", "--user", "sync", "on", ">s3cret", "~*", "&*", "+@all")
	out := &pollerstest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	ping := func(cfg *Config) error {
		o, err := redisOptions(cfg)
		if err != nil {
			return err
		}
		o.MaxRetries = -1
		rdb := redis.NewClient(o)
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return rdb.Ping(ctx).Err()
	}
	url := fmt.Sprintf("rediss://127.0.0.1:%d/0", port)
	good := &Config{RedisURL: url, RedisUser: "sync", RedisPassword: "s3cret", RedisTLSCA: p.ca, RedisTLSCert: p.clientCert, RedisTLSKey: p.clientKey}
	// redis-server logs this once its listeners are open, its TLS
	// settings and users loaded.
	pollerstest.Until(t, "redis-server ready", func() bool { return strings.Contains(out.String(), "Ready to accept connections") }, out)
	if err := ping(good); err != nil {
		t.Fatalf("no connection with ACL user, password, CA and client certificate: %v\n%s", err, out)
	}
	for name, cfg := range map[string]*Config{
		"wrong password": {RedisURL: url, RedisUser: "sync", RedisPassword: "nope", RedisTLSCA: p.ca, RedisTLSCert: p.clientCert, RedisTLSKey: p.clientKey},
		"default user":   {RedisURL: url, RedisPassword: "s3cret", RedisTLSCA: p.ca, RedisTLSCert: p.clientCert, RedisTLSKey: p.clientKey},
		"no client cert": {RedisURL: url, RedisUser: "sync", RedisPassword: "s3cret", RedisTLSCA: p.ca},
	} {
		if ping(cfg) == nil {
			t.Errorf("%s: connected", name)
		}
	}
	// The user and password can also come in the URL.
	inURL := &Config{RedisURL: fmt.Sprintf("rediss://sync:s3cret@127.0.0.1:%d/0", port), RedisTLSCA: p.ca, RedisTLSCert: p.clientCert, RedisTLSKey: p.clientKey}
	if err := ping(inURL); err != nil {
		t.Errorf("credentials in REDIS_URL: %v", err)
	}
}
