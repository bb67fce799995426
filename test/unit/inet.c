/* Unit tests of the inet socket records: what validation lets through and what
 * it refuses (images are untrusted), the network lock's names (they reach an
 * nft/iptables command line), the address formatting of messages, and crtool
 * show decoding a socket record. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include "cr/cr.h"
#include "files/files.h"
#include "image/image.h"
#include "net/inet.h"

static int npass, nfail;

static void expect(const char *name, bool ok)
{
	printf("%s %s\n", ok ? "PASS" : "FAIL", name);
	ok ? npass++ : nfail++;
}

static uint8_t lo4[4] = { 127, 0, 0, 1 }, any4[4], lo6[16] = { [15] = 1 };

/* A valid record of the given kind, in static storage, to be spoiled by a test. */
static FdinfoEntry fe;
static InetSkEntry sk;
static InetSkOpts so;
static TcpStreamEntry ts;
static InetMcastEntry mc, *mcs[1] = { &mc };
static ProtobufCBinaryData src[1];

static FdinfoEntry *udp4(void)
{
	fdinfo_entry__init(&fe);
	inet_sk_entry__init(&sk);
	inet_sk_opts__init(&so);
	fe.fd = 5;
	fe.kind = FD_KIND__FD_INET;
	fe.inet = &sk;
	sk.opts = &so;
	sk.family = AF_INET;
	sk.type = SOCK_DGRAM;
	sk.protocol = IPPROTO_UDP;
	sk.state = INET_TCP_CLOSE;
	sk.src_addr = (ProtobufCBinaryData){ 4, lo4 };
	sk.src_port = 5000;
	sk.dst_addr = (ProtobufCBinaryData){ 4, any4 };
	so.rcvbuf = so.sndbuf = 212992;
	return &fe;
}

static FdinfoEntry *tcp6(unsigned state)
{
	udp4();
	tcp_stream_entry__init(&ts);
	sk.family = AF_INET6;
	sk.type = SOCK_STREAM;
	sk.protocol = IPPROTO_TCP;
	sk.state = state;
	sk.src_addr = (ProtobufCBinaryData){ 16, lo6 };
	sk.dst_addr = (ProtobufCBinaryData){ 16, lo6 };
	sk.dst_port = 6000;
	if (state == INET_TCP_LISTEN)
		sk.has_backlog = true, sk.backlog = 128;
	if (inet_tcp_connected(state)) {
		sk.tcp = &ts;
		ts.mss = 65483;
		ts.snd_wscale = ts.rcv_wscale = 7;
		ts.netlock = "nft:libcr_d1234";
	}
	return &fe;
}

static bool valid(const FdinfoEntry *e)
{
	return inet_fd_ops.validate(e) == 0;
}

/* An fdinfo image holding e, decoded by cr_show_image(): the text has every word. */
static bool shows(const FdinfoEntry *e, const char *const *words)
{
	char tmpl[] = "/tmp/libcr-unit-inet-XXXXXX", path[64] = "", *buf = NULL;
	struct img_dir dir = { .dfd = -1 };
	struct img *img;
	bool ok = false;
	int fd = memfd_create("show", 0);
	off_t len;

	if (fd < 0 || !mkdtemp(tmpl) || img_dir_open(&dir, tmpl) || !(img = img_create(&dir, IMG_FDINFO, 42)) ||
	    img_write_msg(img, &e->base) || img_close_write(img))
		goto out;
	snprintf(path, sizeof(path), "%s/fdinfo-42.img", tmpl);
	if (cr_show_image(path, false, fd) || (len = lseek(fd, 0, SEEK_END)) <= 0 || !(buf = calloc(1, len + 1)) ||
	    pread(fd, buf, len, 0) != len)
		goto out;
	ok = true;
	for (; *words; words++)
		if (!strstr(buf, *words)) {
			printf("# show lacks '%s':\n%s", *words, buf);
			ok = false;
		}
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	if (path[0])
		unlink(path);
	rmdir(tmpl);
	img_dir_close(&dir);
	return ok;
}

int main(void)
{
	FdinfoEntry *e;

	expect("udp4-valid", valid(udp4()));
	expect("tcp6-listen-valid", valid(tcp6(INET_TCP_LISTEN)));
	expect("tcp6-established-valid", valid(tcp6(INET_TCP_ESTABLISHED)));
	expect("tcp6-close-wait-valid", valid(tcp6(INET_TCP_CLOSE_WAIT)));

	e = udp4(), sk.family = 99;
	expect("bad-family", !valid(e));
	expect("no-opts", (e = udp4(), sk.opts = NULL, !valid(e)));
	e = udp4(), sk.src_addr.len = 16;
	expect("address-of-the-other-family", !valid(e));
	e = udp4(), sk.dst_port = 70000;
	expect("port-out-of-range", !valid(e));
	e = udp4(), sk.type = SOCK_RAW;
	expect("raw-socket-valid", valid(e));
	e = udp4(), sk.type = SOCK_RAW, sk.protocol = 300;
	expect("raw-protocol-out-of-range", !valid(e));
	e = udp4(), sk.type = SOCK_RAW, sk.state = INET_TCP_LISTEN;
	expect("raw-listening", !valid(e));
	e = udp4(), sk.type = SOCK_STREAM, sk.protocol = IPPROTO_SCTP;
	expect("sctp-stream", !valid(e));
	e = udp4(), sk.protocol = IPPROTO_TCP;
	expect("dgram-tcp", !valid(e));
	e = udp4(), sk.shutdown = 4;
	expect("bad-shutdown", !valid(e));
	e = udp4(), sk.state = 42;
	expect("bad-state", !valid(e));
	e = udp4(), sk.tcp = &ts, tcp_stream_entry__init(&ts);
	expect("udp-with-a-stream", !valid(e));
	e = udp4(), so.bind_dev = "a-device-name-far-too-long";
	expect("long-device-name", !valid(e));
	e = udp4(), so.rcvbuf = 0x80000000u;
	expect("huge-buffer", !valid(e));
	e = udp4(), inet_mcast_entry__init(&mc), mc.group = (ProtobufCBinaryData){ 16, lo6 }, sk.n_mcast = 1,
	sk.mcast = mcs;
	expect("mcast-group-of-the-other-family", !valid(e));
	e = udp4(), inet_mcast_entry__init(&mc), mc.group = (ProtobufCBinaryData){ 4, lo4 }, sk.n_mcast = 1,
	sk.mcast = mcs, src[0] = (ProtobufCBinaryData){ 16, lo6 }, mc.n_sources = 1, mc.sources = src;
	expect("mcast-source-of-the-other-family", !valid(e));
	e = udp4(), inet_mcast_entry__init(&mc), mc.group = (ProtobufCBinaryData){ 4, lo4 }, sk.n_mcast = 1,
	sk.mcast = mcs, src[0] = (ProtobufCBinaryData){ 4, lo4 }, mc.n_sources = 1, mc.sources = src;
	expect("mcast-valid", valid(e));

	e = tcp6(INET_TCP_LISTEN), sk.has_backlog = false;
	expect("listener-without-backlog", !valid(e));
	e = tcp6(INET_TCP_ESTABLISHED), sk.tcp = NULL;
	expect("established-without-stream", !valid(e));
	e = tcp6(INET_TCP_CLOSE), sk.tcp = &ts;
	expect("closed-with-stream", !valid(e));
	e = tcp6(INET_TCP_ESTABLISHED), ts.snd_wscale = 15;
	expect("window-scale-over-14", !valid(e));
	e = tcp6(INET_TCP_ESTABLISHED), ts.unsent = 1;
	expect("more-unsent-than-queued", !valid(e));
	e = tcp6(INET_TCP_ESTABLISHED), ts.fin_sent = ts.fin_received = true;
	expect("both-fins", !valid(e));
	e = tcp6(INET_TCP_ESTABLISHED), ts.netlock = "nft:libcr_d1; flush ruleset";
	expect("lock-name-injection", !valid(e));

	expect("lock-names", netlock_valid_name("nft:libcr_d1234") && netlock_valid_name("ipt:libcr_r77") &&
				     !netlock_valid_name("nft:filter") && !netlock_valid_name("ipt:libcr_D1") &&
				     !netlock_valid_name("xyz:libcr_d1") && !netlock_valid_name("nft:libcr_ d1") &&
				     !netlock_valid_name("nft:libcr_aaaaaaaaaaaaaaaaaaaaaaaaa"));

	static const char *const words[] = { "FD_INET", "inet:", "src_port: 6000", "tcp:", "mss: 65483",
					     "netlock: \"nft:libcr_d1234\"", NULL };
	e = tcp6(INET_TCP_ESTABLISHED), sk.src_port = 6000;
	expect("show-decodes-a-connection", shows(e, words));

	char b[64];
	inet_addr_str(b, sizeof(b), AF_INET, lo4, 80);
	bool ok = !strcmp(b, "127.0.0.1:80");
	inet_addr_str(b, sizeof(b), AF_INET6, lo6, 443);
	expect("address-strings", ok && !strcmp(b, "[::1]:443"));
	expect("state-names", !strcmp(inet_state_name(INET_TCP_CLOSE_WAIT), "CLOSE_WAIT") &&
				      !strcmp(inet_state_name(99), "?"));

	printf("%d passed, %d failed\n", npass, nfail);
	return nfail ? 1 : 0;
}
