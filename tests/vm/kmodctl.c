// SPDX-License-Identifier: MIT
/*
 * oobbpf-kmodctl: the test driver of the kernel bridge's ioctl interface (include/oobbpf/kmod_ioctl.h),
 * run inside the test VM. It creates and pins maps from BPF objects (no program is loaded, so
 * no verifier time), writes the few entries a test needs in the layouts of oobbpf/abi.h, hands
 * the maps to the module, checks every way a request can be wrong, sends raw frames, and prints
 * what the module wrote, one `key=value` record per line.
 *
 *   oobbpf-kmodctl maps PINDIR OBJ...          create OBJ's maps, pin as PINDIR/<name minus oob_>
 *   oobbpf-kmodctl hand PINDIR [observe] [-ROLE...]  hand the pinned maps over (leaving ROLEs
 *                                              out; observe: OOBK_MAPS_OBSERVE)
 *   oobbpf-kmodctl events COUNT TIMEOUT_MS [forget]  read decided flows (prints "ready" once
 *                                              registered; forget: OOBK_IOC_FORGET each)
 *   oobbpf-kmodctl up PINDIR IFNAME...           hand all, then attach to each device
 *   oobbpf-kmodctl clear | info
 *   oobbpf-kmodctl attach IFNAME | detach IFNAME
 *   oobbpf-kmodctl config PINDIR
 *   oobbpf-kmodctl port PINDIR IFNAME PORT_ID            untagged port (and diversion)
 *   oobbpf-kmodctl vlanport PINDIR VLANDEV PORT_ID        VLAN port (diversion on its lower dev)
 *   oobbpf-kmodctl vlanset PINDIR IFNAME|0 VID PORT_ID    oob VLAN membership
 *   oobbpf-kmodctl rule PINDIR ID PRIO pass|divert|drop udp DPORT
 *   oobbpf-kmodctl stats PINDIR PORT_ID                   port counters, summed over CPUs
 *   oobbpf-kmodctl rstats PINDIR RULE_ID                  rule counters, summed over CPUs
 *   oobbpf-kmodctl routes PINDIR | neighs PINDIR
 *   oobbpf-kmodctl send IFNAME [vlan VID[.VID]] [arp] DST_IP DPORT [COUNT [GAP_US]]
 *   oobbpf-kmodctl negative PINDIR                        every malformed request must fail
 *   oobbpf-kmodctl cycles N KO TESTRX_KO PINDIR IFNAME... load, hand, attach, unload N times
 *                                              (every other cycle with the test receiver)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <oobbpf/kmod_ioctl.h>

static const char *const role_pin[OOBK_MAP_COUNT] = {
	[OOBK_MAP_CONFIG] = OOB_PIN_CONFIG,	    [OOBK_MAP_DEVS] = OOB_PIN_DEVS,
	[OOBK_MAP_PORTS] = OOB_PIN_PORTS,	    [OOBK_MAP_VLANS] = OOB_PIN_VLANS,
	[OOBK_MAP_RULES] = OOB_PIN_RULES,	    [OOBK_MAP_RULE_MASKS] = OOB_PIN_RULE_MASKS,
	[OOBK_MAP_RULE_STATS] = OOB_PIN_RULE_STATS, [OOBK_MAP_PORT_STATS] = OOB_PIN_PORT_STATS,
	[OOBK_MAP_LAST] = OOB_PIN_LAST,		    [OOBK_MAP_ROUTES] = OOB_PIN_ROUTES,
	[OOBK_MAP_NEIGHS] = OOB_PIN_NEIGHS,
};

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("oobbpf-kmodctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static int ctl_fd(void)
{
	int fd = open(OOBK_DEV_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("open %s: %s", OOBK_DEV_PATH, strerror(errno));
	return fd;
}

static int pinned(const char *dir, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	return fd;
}

static int role_of(const char *name)
{
	for (int i = 0; i < OOBK_MAP_COUNT; i++)
		if (!strcmp(role_pin[i], name))
			return i;
	die("unknown map role '%s'", name);
	return -1;
}

static unsigned int ifindex_of(const char *name)
{
	unsigned int i = if_nametoindex(name);

	if (!i)
		die("no device %s", name);
	return i;
}

/* ---- maps: create from objects without loading programs ---------------------------------- */
static int cmd_maps(int argc, char **argv)
{
	if (argc < 2)
		die("usage: maps PINDIR OBJ...");
	for (int a = 1; a < argc; a++) {
		struct bpf_object *obj = bpf_object__open_file(argv[a], NULL);
		struct bpf_program *prog;
		struct bpf_map *map;
		int err;

		if (!obj)
			die("open %s: %s", argv[a], strerror(errno));
		bpf_object__for_each_program(prog, obj)
			bpf_program__set_autoload(prog, false);
		err = bpf_object__load(obj);
		if (err)
			die("load maps of %s: %s", argv[a], strerror(-err));
		bpf_object__for_each_map(map, obj) {
			const char *name = bpf_map__name(map);
			char path[512];

			if (strncmp(name, "oob_", 4))
				continue; /* .rodata and friends */
			snprintf(path, sizeof(path), "%s/%s", argv[0], name + 4);
			err = bpf_map__pin(map, path);
			if (err)
				die("pin %s: %s", path, strerror(-err));
			printf("pinned=%s type=%u key=%u value=%u entries=%u\n", path,
			       bpf_map__type(map), bpf_map__key_size(map), bpf_map__value_size(map),
			       bpf_map__max_entries(map));
		}
		bpf_object__close(obj);
	}
	return 0;
}

static void maps_req(struct oobk_maps *req, const char *dir, unsigned int leave_out)
{
	memset(req, 0, sizeof(*req));
	req->size = sizeof(*req);
	req->version = OOBK_IOCTL_VERSION;
	req->abi_version = OOB_ABI_VERSION;
	for (int i = 0; i < OOBK_MAP_SLOTS; i++)
		req->fd[i] = -1;
	for (int i = 0; i < OOBK_MAP_COUNT; i++) {
		char path[512];

		if (leave_out & (1U << i))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, role_pin[i]);
		if (access(path, F_OK))
			continue;
		req->fd[i] = pinned(dir, role_pin[i]);
	}
}

static int cmd_hand(int argc, char **argv)
{
	struct oobk_maps req;
	unsigned int leave_out = 0;
	int fd = ctl_fd();

	unsigned int flags = 0;

	if (argc < 1)
		die("usage: hand PINDIR [observe] [-ROLE...]");
	for (int a = 1; a < argc; a++) {
		if (argv[a][0] == '-')
			leave_out |= 1U << role_of(argv[a] + 1);
		else if (!strcmp(argv[a], "observe"))
			flags |= OOBK_MAPS_OBSERVE;
		else
			die("hand: unknown argument '%s'", argv[a]);
	}
	maps_req(&req, argv[0], leave_out);
	req.flags = flags;
	if (ioctl(fd, OOBK_IOC_SET_MAPS, &req))
		die("OOBK_IOC_SET_MAPS: %s (role %u)", strerror(errno), req.bad_role);
	printf("handed=");
	for (int i = 0, n = 0; i < OOBK_MAP_COUNT; i++)
		if (req.fd[i] >= 0)
			printf("%s%s", n++ ? "," : "", role_pin[i]);
	printf("\n");
	return 0;
}

/* up PINDIR IFNAME...: hand every pinned map over and attach to each device (one process). */
static int cmd_up(int argc, char **argv)
{
	struct oobk_maps req;
	int fd = ctl_fd();

	maps_req(&req, argv[0], 0);
	if (ioctl(fd, OOBK_IOC_SET_MAPS, &req))
		die("OOBK_IOC_SET_MAPS: %s (role %u)", strerror(errno), req.bad_role);
	for (int a = 1; a < argc; a++) {
		struct oobk_port_req pr = { .size = sizeof(pr), .version = OOBK_IOCTL_VERSION,
					    .ifindex = ifindex_of(argv[a]) };

		if (ioctl(fd, OOBK_IOC_RX_ATTACH, &pr))
			die("attach %s: %s", argv[a], strerror(errno));
	}
	return 0;
}

/* events COUNT TIMEOUT_MS [forget]: decided flows, one line each. */
static int cmd_events(int argc, char **argv)
{
	int fd = ctl_fd(), want = atoi(argv[0]), timeout = atoi(argv[1]), got = 0;
	int forget = argc > 2 && !strcmp(argv[2], "forget");
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b1[INET6_ADDRSTRLEN], b2[INET6_ADDRSTRLEN];
	struct oob_learn_event ev[16];

	/* The first poll() makes this file a reader of its namespace. */
	if (poll(&p, 1, 0) < 0)
		die("poll: %s", strerror(errno));
	printf("ready\n");
	fflush(stdout);
	while (got < want) {
		ssize_t n;
		int r = poll(&p, 1, timeout);

		if (r < 0)
			die("poll: %s", strerror(errno));
		if (!r)
			break;
		n = read(fd, ev, sizeof(ev));
		if (n < 0)
			die("read: %s", strerror(errno));
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(ev[0]); i++, got++) {
			const struct oob_route_key *k = &ev[i].key;

			printf("event dst=%s src=%s oif_key=%u mark=%u tos=%u nh=%u table=%u\n",
			       inet_ntop(k->family, k->dst, b1, sizeof(b1)),
			       inet_ntop(k->family, k->src, b2, sizeof(b2)), k->oif, k->mark, k->tos,
			       ev[i].nh_ifindex, ev[i].table);
			fflush(stdout);
			if (forget && ioctl(fd, OOBK_IOC_FORGET, k))
				die("OOBK_IOC_FORGET: %s", strerror(errno));
		}
	}
	printf("events=%d\n", got);
	return 0;
}

static int get_info(int fd, struct oobk_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->version = OOBK_IOCTL_VERSION;
	return ioctl(fd, OOBK_IOC_GET_INFO, info);
}

static int cmd_info(void)
{
	struct oobk_info info;
	int fd = ctl_fd();

	if (get_info(fd, &info))
		die("OOBK_IOC_GET_INFO: %s", strerror(errno));
	printf("abi=%u flags=0x%x tracepoint=%d tracepoint6=%d dovetail=%d receiver=%d maps=0x%x "
	       "rx_ports=%u\n",
	       info.abi_version, info.flags, !!(info.flags & OOBK_INFO_TRACEPOINT),
	       !!(info.flags & OOBK_INFO_TRACEPOINT6), !!(info.flags & OOBK_INFO_DOVETAIL),
	       !!(info.flags & OOBK_INFO_RECEIVER), info.maps, info.rx_ports);
	printf("routes_learned=%llu routes_failed=%llu learn_dropped=%llu neighs_updated=%llu "
	       "neighs_removed=%llu purged=%llu rx_frames=%llu rx_diverted=%llu\n",
	       (unsigned long long)info.routes_learned, (unsigned long long)info.routes_failed,
	       (unsigned long long)info.learn_dropped, (unsigned long long)info.neighs_updated,
	       (unsigned long long)info.neighs_removed, (unsigned long long)info.purged,
	       (unsigned long long)info.rx_frames, (unsigned long long)info.rx_diverted);
	return 0;
}

static int cmd_port_req(unsigned long cmd, const char *ifname)
{
	struct oobk_port_req req = {
		.size = sizeof(req), .version = OOBK_IOCTL_VERSION, .ifindex = ifindex_of(ifname)
	};
	int fd = ctl_fd();

	if (ioctl(fd, cmd, &req))
		die("%s %s: %s", cmd == OOBK_IOC_RX_ATTACH ? "attach" : "detach", ifname,
		    strerror(errno));
	return 0;
}

/* ---- entries ------------------------------------------------------------------------------ */
static void update(const char *dir, const char *name, const void *key, const void *val)
{
	int fd = pinned(dir, name);

	if (bpf_map_update_elem(fd, key, val, BPF_ANY))
		die("update %s: %s", name, strerror(errno));
	close(fd);
}

static void divert_on(const char *dir, unsigned int ifindex, unsigned int port_flag,
		      unsigned int port_id)
{
	struct oob_dev d = { 0 };
	int fd = pinned(dir, OOB_PIN_DEVS);

	if (bpf_map_lookup_elem(fd, &ifindex, &d))
		memset(&d, 0, sizeof(d));
	d.flags |= OOB_DEV_DIVERT | port_flag;
	if (port_flag)
		d.port_id = port_id;
	if (bpf_map_update_elem(fd, &ifindex, &d, BPF_ANY))
		die("update devs: %s", strerror(errno));
	close(fd);
}

static int cmd_config(char **argv)
{
	struct oob_config c = { .magic = OOB_CONFIG_MAGIC, .version = OOB_ABI_VERSION };
	__u32 zero = 0;

	update(argv[0], OOB_PIN_CONFIG, &zero, &c);
	return 0;
}

static int cmd_port(char **argv)
{
	unsigned int ifindex = ifindex_of(argv[1]);

	divert_on(argv[0], ifindex, OOB_DEV_PORT, atoi(argv[2]));
	return 0;
}

static int cmd_vlanport(char **argv)
{
	char path[256], lower_name[IF_NAMESIZE] = "";
	struct oob_port_key k = { 0 };
	struct oob_port p = { 0 };
	unsigned int ifindex = ifindex_of(argv[1]);
	FILE *f;

	/* /proc/net/vlan/DEV: "DEV  VID: n ..." and "Device: LOWER" */
	snprintf(path, sizeof(path), "/proc/net/vlan/%s", argv[1]);
	f = fopen(path, "r");
	if (!f)
		die("%s is no VLAN device", argv[1]);
	{
		char line[256];

		while (fgets(line, sizeof(line), f)) {
			char *v = strstr(line, "VID: ");
			char *d = strstr(line, "Device: ");

			if (v)
				k.vid = (__u16)atoi(v + 5);
			if (d)
				sscanf(d + 8, "%15s", lower_name);
		}
	}
	fclose(f);
	if (!k.vid || !lower_name[0])
		die("cannot read %s", path);
	k.ifindex = ifindex_of(lower_name);
	p.port_id = atoi(argv[2]);
	p.flags = OOB_PORT_VLAN;
	p.ifindex = ifindex;
	p.lower_ifindex = k.ifindex;
	p.vid = k.vid;
	update(argv[0], OOB_PIN_PORTS, &k, &p);
	divert_on(argv[0], k.ifindex, 0, 0);
	return 0;
}

static int cmd_vlanset(char **argv)
{
	struct oob_vlan_key k = { 0 };
	struct oob_vlan v = { .flags = OOB_VLAN_MEMBER };

	k.ifindex = strcmp(argv[1], "0") ? ifindex_of(argv[1]) : 0;
	k.vid = (__u16)atoi(argv[2]);
	v.port_id = atoi(argv[3]);
	update(argv[0], OOB_PIN_VLANS, &k, &v);
	return 0;
}

/* One UDP destination-port rule in generation 0, under a single mask. */
static int cmd_rule(int argc, char **argv)
{
	struct oob_rule_masks *m;
	struct oob_rule_key k = { 0 };
	struct oob_rule_val v = { 0 };
	__u32 zero = 0;
	int fd;

	if (argc < 6 || strcmp(argv[4], "udp"))
		die("usage: rule PINDIR ID PRIO pass|divert|drop udp DPORT");
	v.rule_id = atoi(argv[1]);
	v.prio = atoi(argv[2]);
	v.action = !strcmp(argv[3], "divert") ? OOB_DIVERT :
		   !strcmp(argv[3], "drop")   ? OOB_DROP :
						OOB_PASS;
	m = calloc(1, sizeof(*m));
	if (!m)
		die("oom");
	fd = pinned(argv[0], OOB_PIN_RULE_MASKS);
	if (bpf_map_lookup_elem(fd, &zero, m))
		die("lookup rule_masks: %s", strerror(errno));
	/* best_prio[0]: the best priority under the mask, which lets the search stop early. */
	if (!m->count || v.prio < m->best_prio[0])
		m->best_prio[0] = v.prio;
	m->count = 1;
	m->mask[0].l3proto = 0xffff;
	m->mask[0].l4proto = 0xff;
	m->mask[0].dport = 0xffff;
	if (bpf_map_update_elem(fd, &zero, m, BPF_ANY))
		die("update rule_masks: %s", strerror(errno));
	close(fd);
	free(m);
	k.l3proto = htons(ETH_P_IP);
	k.l4proto = 17;
	k.dport = htons((__u16)atoi(argv[5]));
	k.tuple = 0;
	update(argv[0], OOB_PIN_RULES, &k, &v);
	return 0;
}

/* ---- reading what the kernel wrote -------------------------------------------------------- */
static int cmd_stats(char **argv)
{
	int ncpu = libbpf_num_possible_cpus(), fd = pinned(argv[0], OOB_PIN_PORT_STATS);
	struct oob_port_stats *v = calloc(ncpu, sizeof(*v)), sum = { 0 };
	__u32 port = atoi(argv[1]);

	if (!v || bpf_map_lookup_elem(fd, &port, v))
		die("lookup port_stats %u: %s", port, strerror(errno));
	for (int c = 0; c < ncpu; c++) {
		for (int i = 0; i < OOB_VERDICT_MAX; i++) {
			sum.verdict_packets[i] += v[c].verdict_packets[i];
			sum.verdict_bytes[i] += v[c].verdict_bytes[i];
		}
		for (int i = 0; i < OOB_REASON_MAX; i++)
			sum.reason[i] += v[c].reason[i];
	}
	printf("port=%u pass=%llu divert=%llu drop=%llu pass_bytes=%llu divert_bytes=%llu "
	       "drop_bytes=%llu",
	       port,
	       (unsigned long long)sum.verdict_packets[OOB_PASS],
	       (unsigned long long)sum.verdict_packets[OOB_DIVERT],
	       (unsigned long long)sum.verdict_packets[OOB_DROP],
	       (unsigned long long)sum.verdict_bytes[OOB_PASS],
	       (unsigned long long)sum.verdict_bytes[OOB_DIVERT],
	       (unsigned long long)sum.verdict_bytes[OOB_DROP]);
	for (int i = 0; i < OOB_REASON_MAX; i++)
		if (sum.reason[i])
			printf(" r%d=%llu", i, (unsigned long long)sum.reason[i]);
	printf("\n");
	free(v);
	return 0;
}

static int cmd_rstats(char **argv)
{
	int ncpu = libbpf_num_possible_cpus(), fd = pinned(argv[0], OOB_PIN_RULE_STATS);
	struct oob_rule_stats *v = calloc(ncpu, sizeof(*v)), sum = { 0 };
	__u32 id = atoi(argv[1]);

	if (!v || bpf_map_lookup_elem(fd, &id, v))
		die("lookup rule_stats %u: %s", id, strerror(errno));
	for (int c = 0; c < ncpu; c++) {
		sum.packets += v[c].packets;
		sum.bytes += v[c].bytes;
	}
	printf("rule=%u packets=%llu bytes=%llu\n", id, (unsigned long long)sum.packets,
	       (unsigned long long)sum.bytes);
	free(v);
	return 0;
}

static const char *ip_any(int family, const __be32 *a, char *buf)
{
	return inet_ntop(family, a, buf, INET6_ADDRSTRLEN);
}

static int cmd_routes(char **argv)
{
	static struct oob_route_key keep;
	struct oob_route_key k, *prev = NULL;
	struct oob_route r;
	int fd = pinned(argv[0], OOB_PIN_ROUTES);
	char b1[INET6_ADDRSTRLEN], b2[INET6_ADDRSTRLEN], b3[INET6_ADDRSTRLEN],
		b4[INET6_ADDRSTRLEN];

	while (!bpf_map_get_next_key(fd, prev, &k)) {
		if (!bpf_map_lookup_elem(fd, &k, &r))
			printf("dst=%s src=%s oif_key=%u mark=%u tos=%u netns=%u -> oif=%u lower=%u "
			       "vid=%u gw=%s prefsrc=%s mtu=%u table=%u flags=0x%x seq=%u\n",
			       ip_any(k.family, k.dst, b1), ip_any(k.family, k.src, b2), k.oif, k.mark,
			       k.tos, k.netns, r.oif, r.lower_ifindex, r.vid, ip_any(k.family, r.gw, b3),
			       ip_any(k.family, r.prefsrc, b4), r.mtu,
			       r.table, r.flags, r.seq);
		keep = k;
		prev = &keep;
	}
	return 0;
}

static int cmd_neighs(char **argv)
{
	static struct oob_neigh_key keep;
	struct oob_neigh_key k, *prev = NULL;
	struct oob_neigh n;
	int fd = pinned(argv[0], OOB_PIN_NEIGHS);
	char b[INET6_ADDRSTRLEN];

	while (!bpf_map_get_next_key(fd, prev, &k)) {
		if (!bpf_map_lookup_elem(fd, &k, &n))
			printf("ifindex=%u addr=%s mac=%02x:%02x:%02x:%02x:%02x:%02x state=0x%x "
			       "seq=%u\n",
			       k.ifindex, ip_any(k.family, k.addr, b), n.mac[0], n.mac[1], n.mac[2],
			       n.mac[3], n.mac[4], n.mac[5], n.state, n.seq);
		keep = k;
		prev = &keep;
	}
	return 0;
}

/* ---- frames ------------------------------------------------------------------------------- */
static __u16 csum16(const void *data, size_t len)
{
	const __u8 *p = data;
	__u32 sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (p[i] << 8) | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((__u16)~sum);
}

/* send IFNAME [vlan VID[.VID]] [arp] DST_IP DPORT [COUNT [GAP_US]]: IPv4/UDP (or ARP) frames,
 * GAP_US apart (default: back to back). */
static int cmd_send(int argc, char **argv)
{
	unsigned int ifindex = ifindex_of(argv[0]), vids[2], nvids = 0, count = 1, gap_us = 0;
	struct sockaddr_ll sll = { 0 };
	__u8 f[128], *p = f;
	int a = 1, arp = 0, s;
	struct in_addr dst;
	__u16 dport = 0;

	if (a < argc && !strcmp(argv[a], "vlan")) {
		nvids = sscanf(argv[a + 1], "%u.%u", &vids[0], &vids[1]);
		a += 2;
	}
	if (a < argc && !strcmp(argv[a], "arp")) {
		arp = 1;
		a++;
	}
	if (a >= argc || !inet_pton(AF_INET, argv[a], &dst))
		die("usage: send IFNAME [vlan VID[.VID]] [arp] DST_IP DPORT [COUNT]");
	if (a + 1 < argc)
		dport = (__u16)atoi(argv[a + 1]);
	if (a + 2 < argc)
		count = atoi(argv[a + 2]);
	if (a + 3 < argc)
		gap_us = atoi(argv[a + 3]);

	memset(f, 0, sizeof(f));
	memset(p, 0xff, 6); /* broadcast: every receiver takes it */
	p += 6;
	memcpy(p, "\x02\x00\x00\x00\x00\x01", 6);
	p += 6;
	for (unsigned int i = 0; i < nvids; i++) {
		__u16 tpid = htons(nvids == 2 && i == 0 ? ETH_P_8021AD : ETH_P_8021Q);
		__u16 tci = htons((__u16)vids[i]);

		memcpy(p, &tpid, 2);
		memcpy(p + 2, &tci, 2);
		p += 4;
	}
	if (arp) {
		static const __u8 req[] = { 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1 };

		memcpy(p, req, sizeof(req));
		p += sizeof(req);
		memcpy(p, "\x02\x00\x00\x00\x00\x01\x0a\x63\x00\x01", 10);
		p += 10 + 6;
		memcpy(p, &dst, 4);
		p += 4;
	} else {
		__u8 *ip;
		__u16 et = htons(ETH_P_IP), u16;

		memcpy(p, &et, 2);
		p += 2;
		ip = p;
		ip[0] = 0x45;
		u16 = htons(20 + 8 + 18);
		memcpy(ip + 2, &u16, 2);
		ip[8] = 64;
		ip[9] = 17;
		memcpy(ip + 12, "\x0a\x63\x00\x01", 4);
		memcpy(ip + 16, &dst, 4);
		u16 = csum16(ip, 20);
		memcpy(ip + 10, &u16, 2);
		p += 20;
		u16 = htons(40000);
		memcpy(p, &u16, 2);
		u16 = htons(dport);
		memcpy(p + 2, &u16, 2);
		u16 = htons(8 + 18);
		memcpy(p + 4, &u16, 2);
		p += 8 + 18; /* UDP checksum 0: none (IPv4) */
	}

	s = socket(AF_PACKET, SOCK_RAW, 0);
	if (s < 0)
		die("AF_PACKET: %s", strerror(errno));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = ifindex;
	sll.sll_halen = 6;
	memset(sll.sll_addr, 0xff, 6);
	for (unsigned int i = 0; i < count; i++) {
		if (sendto(s, f, p - f, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0)
			die("send: %s", strerror(errno));
		if (gap_us)
			usleep(gap_us);
	}
	close(s);
	printf("sent=%u len=%ld\n", count, (long)(p - f));
	return 0;
}

/* ---- every way a request can be wrong ----------------------------------------------------- */
static int failures;

static void expect(const char *what, int ret, int want_errno, __u32 bad_role, __u32 want_role)
{
	int err = ret ? errno : 0;

	if (ret && err == want_errno && (want_role == (__u32)-2 || bad_role == want_role)) {
		printf("ok %s: %s\n", what, strerror(err));
		return;
	}
	printf("FAIL %s: ret=%d errno=%s (want %s) bad_role=%u (want %d)\n", what, ret,
	       strerror(err), strerror(want_errno), bad_role, (int)want_role);
	failures++;
}

static int make_map(enum bpf_map_type type, __u32 key, __u32 value, __u32 entries)
{
	int fd = bpf_map_create(type, "kmodctl_bad", key, value, entries, NULL);

	if (fd < 0)
		die("bpf_map_create: %s", strerror(errno));
	return fd;
}

static void drop_net_admin(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		die("capget: %s", strerror(errno));
	d[CAP_NET_ADMIN / 32].effective &= ~(1U << (CAP_NET_ADMIN % 32));
	if (syscall(SYS_capset, &h, d))
		die("capset: %s", strerror(errno));
}

/* In a child: may this process do anything with the module through fd? 0: all refused (EPERM).
 * req: a valid request, its map fds opened before the privileges went. */
static int all_refused(int fd, struct oobk_maps *req)
{
	struct oobk_port_req pr = { .size = sizeof(pr), .version = OOBK_IOCTL_VERSION, .ifindex = 1 };
	struct oob_learn_event ev;
	struct oob_route_key key;
	struct oobk_info info;
	int refused = 0;

	refused += ioctl(fd, OOBK_IOC_SET_MAPS, req) && errno == EPERM;
	refused += ioctl(fd, OOBK_IOC_CLEAR_MAPS) && errno == EPERM;
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.version = OOBK_IOCTL_VERSION;
	refused += ioctl(fd, OOBK_IOC_GET_INFO, &info) && errno == EPERM;
	refused += ioctl(fd, OOBK_IOC_RX_ATTACH, &pr) && errno == EPERM;
	refused += ioctl(fd, OOBK_IOC_RX_DETACH, &pr) && errno == EPERM;
	memset(&key, 0, sizeof(key));
	refused += ioctl(fd, OOBK_IOC_FORGET, &key) && errno == EPERM;
	refused += read(fd, &ev, sizeof(ev)) < 0 && errno == EPERM;
	return refused == 7 ? 0 : 1;
}

static void expect_refused(const char *what, int fd, const char *dir, void (*drop)(void))
{
	struct oobk_maps req;
	pid_t pid;
	int st;

	maps_req(&req, dir, 0);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		drop();
		_exit(all_refused(fd, &req));
	}
	waitpid(pid, &st, 0);
	for (int i = 0; i < OOBK_MAP_SLOTS; i++)
		if (req.fd[i] >= 0)
			close(req.fd[i]);
	if (WIFEXITED(st) && !WEXITSTATUS(st)) {
		printf("ok %s: every request refused: %s\n", what, strerror(EPERM));
	} else {
		printf("FAIL %s: a request went through\n", what);
		failures++;
	}
}

/* An unprivileged user holding a descriptor root opened (leaked, or passed over a socket):
 * the uid change clears every capability. Its own open() is refused by the node's mode. */
static void become_nobody(void)
{
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		die("drop to uid 65534: %s", strerror(errno));
	if (open(OOBK_DEV_PATH, O_RDWR) >= 0 || errno != EACCES)
		die("uid 65534 opened %s (or failed otherwise: %s)", OOBK_DEV_PATH, strerror(errno));
}

static int cmd_negative(char **argv)
{
	int fd = ctl_fd(), devnull = open("/dev/null", O_RDONLY), pipefd[2], regular;
	struct oobk_maps req;
	struct oobk_info info, before;
	const char *dir = argv[0];
	char tmpl[] = "/tmp/kmodctl-XXXXXX";
	int ret;

	if (pipe(pipefd))
		die("pipe: %s", strerror(errno));
	regular = mkstemp(tmpl);
	if (regular < 0)
		die("mkstemp: %s", strerror(errno));
	unlink(tmpl);

	if (get_info(fd, &before))
		die("GET_INFO: %s", strerror(errno));

#define TRY(what, want_errno, want_role, mutate)                                              \
	do {                                                                                  \
		maps_req(&req, dir, 0);                                                       \
		mutate;                                                                       \
		ret = ioctl(fd, OOBK_IOC_SET_MAPS, &req);                                     \
		expect(what, ret, want_errno, req.bad_role, want_role);                       \
		for (int i_ = 0; i_ < OOBK_MAP_SLOTS; i_++)                                   \
			if (req.fd[i_] >= 0 && req.fd[i_] != devnull &&                       \
			    req.fd[i_] != pipefd[0] && req.fd[i_] != regular)                 \
				close(req.fd[i_]);                                            \
	} while (0)

	TRY("size", EINVAL, OOBK_BAD_REQUEST, req.size = sizeof(req) - 8);
	TRY("size_larger", EINVAL, OOBK_BAD_REQUEST, req.size = sizeof(req) + 8);
	TRY("size_zero", EINVAL, OOBK_BAD_REQUEST, req.size = 0);
	TRY("version_zero", EPROTO, OOBK_BAD_REQUEST, req.version = 0);
	TRY("version", EPROTO, OOBK_BAD_REQUEST, req.version = OOBK_IOCTL_VERSION + 1);
	TRY("abi_version", EPROTO, OOBK_BAD_REQUEST, req.abi_version = OOB_ABI_VERSION + 1);
	TRY("flags", EINVAL, OOBK_BAD_REQUEST, req.flags = 0x80);
	TRY("pad", EINVAL, OOBK_BAD_REQUEST, req.pad = 1);
	TRY("unknown_role", EINVAL, OOBK_MAP_COUNT, req.fd[OOBK_MAP_COUNT] = dup(req.fd[0]));
	TRY("negative_fd", EBADF, OOBK_MAP_PORTS, (close(req.fd[OOBK_MAP_PORTS]), req.fd[OOBK_MAP_PORTS] = -5));
	TRY("closed_fd", EBADF, OOBK_MAP_PORTS, (close(req.fd[OOBK_MAP_PORTS]), req.fd[OOBK_MAP_PORTS] = 1000));
	TRY("not_a_map", EINVAL, OOBK_MAP_VLANS, (close(req.fd[OOBK_MAP_VLANS]), req.fd[OOBK_MAP_VLANS] = devnull));
	TRY("not_a_map_pipe", EINVAL, OOBK_MAP_RULES, (close(req.fd[OOBK_MAP_RULES]), req.fd[OOBK_MAP_RULES] = pipefd[0]));
	TRY("not_a_map_file", EINVAL, OOBK_MAP_ROUTES, (close(req.fd[OOBK_MAP_ROUTES]), req.fd[OOBK_MAP_ROUTES] = regular));
	TRY("not_a_map_ctl", EINVAL, OOBK_MAP_NEIGHS, (close(req.fd[OOBK_MAP_NEIGHS]), req.fd[OOBK_MAP_NEIGHS] = dup(fd)));
	/* Right key and value sizes, wrong type: an array where a hash is expected and back. */
	TRY("map_type", EINVAL, OOBK_MAP_DEVS,
	    (close(req.fd[OOBK_MAP_DEVS]),
	     req.fd[OOBK_MAP_DEVS] = make_map(BPF_MAP_TYPE_ARRAY, 4, sizeof(struct oob_dev), 4)));
	TRY("map_type_hash_for_array", EINVAL, OOBK_MAP_CONFIG,
	    (close(req.fd[OOBK_MAP_CONFIG]),
	     req.fd[OOBK_MAP_CONFIG] = make_map(BPF_MAP_TYPE_HASH, 4, sizeof(struct oob_config), 4)));
	TRY("map_type_percpu", EINVAL, OOBK_MAP_PORTS,
	    (close(req.fd[OOBK_MAP_PORTS]),
	     req.fd[OOBK_MAP_PORTS] = make_map(BPF_MAP_TYPE_PERCPU_HASH, sizeof(struct oob_port_key),
					       sizeof(struct oob_port), 4)));
	TRY("key_size", EINVAL, OOBK_MAP_DEVS,
	    (close(req.fd[OOBK_MAP_DEVS]),
	     req.fd[OOBK_MAP_DEVS] = make_map(BPF_MAP_TYPE_HASH, 8, sizeof(struct oob_dev), 4)));
	TRY("value_size", EINVAL, OOBK_MAP_ROUTES,
	    (close(req.fd[OOBK_MAP_ROUTES]),
	     req.fd[OOBK_MAP_ROUTES] = make_map(BPF_MAP_TYPE_HASH, sizeof(struct oob_route_key),
						sizeof(struct oob_route) - 8, 4)));
	TRY("percpu_value_size", EINVAL, OOBK_MAP_PORT_STATS,
	    (close(req.fd[OOBK_MAP_PORT_STATS]),
	     req.fd[OOBK_MAP_PORT_STATS] = make_map(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 16, 4)));
	TRY("too_few_entries", EINVAL, OOBK_MAP_RULE_MASKS,
	    (close(req.fd[OOBK_MAP_RULE_MASKS]),
	     req.fd[OOBK_MAP_RULE_MASKS] = make_map(BPF_MAP_TYPE_ARRAY, 4, sizeof(struct oob_rule_masks), 1)));
	TRY("required_missing", ENOENT, OOBK_MAP_RULES, (close(req.fd[OOBK_MAP_RULES]), req.fd[OOBK_MAP_RULES] = -1));

	/* A request of another size is another ioctl number. */
	ret = ioctl(fd, _IOWR(OOBK_IOC_MAGIC, 1, struct oobk_port_req), &req);
	expect("ioctl_number", ret, ENOTTY, 0, (__u32)-2);
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.version = 99;
	ret = ioctl(fd, OOBK_IOC_GET_INFO, &info);
	expect("info_version", ret, EPROTO, 0, (__u32)-2);
	info.version = OOBK_IOCTL_VERSION;
	info.size = sizeof(info) - 8;
	ret = ioctl(fd, OOBK_IOC_GET_INFO, &info);
	expect("info_size", ret, EINVAL, 0, (__u32)-2);
	{
		struct oobk_port_req pr = { .size = sizeof(pr), .version = OOBK_IOCTL_VERSION,
					    .ifindex = 0x7fffffff };

		ret = ioctl(fd, OOBK_IOC_RX_ATTACH, &pr);
		expect("attach_no_device", ret, ENODEV, 0, (__u32)-2);
		pr.ifindex = 1;
		pr.flags = 1;
		ret = ioctl(fd, OOBK_IOC_RX_ATTACH, &pr);
		expect("attach_flags", ret, EINVAL, 0, (__u32)-2);
		pr.flags = 0;
		pr.size = sizeof(pr) + 4;
		ret = ioctl(fd, OOBK_IOC_RX_ATTACH, &pr);
		expect("attach_size", ret, EINVAL, 0, (__u32)-2);
		pr.size = sizeof(pr);
		pr.version = OOBK_IOCTL_VERSION + 1;
		ret = ioctl(fd, OOBK_IOC_RX_DETACH, &pr);
		expect("detach_version", ret, EPROTO, 0, (__u32)-2);
	}
	{
		/* A reader's buffer must hold one whole record. */
		struct oob_learn_event ev;

		ret = read(fd, &ev, sizeof(ev) - 1) < 0 ? -1 : 0;
		expect("read_short_buffer", ret, EINVAL, 0, (__u32)-2);
	}

	/* Without CAP_NET_ADMIN: refused, whatever the request, on a descriptor opened with it. */
	expect_refused("no_cap_net_admin", fd, dir, drop_net_admin);
	expect_refused("unprivileged_uid", fd, dir, become_nobody);

	/* None of that changed what the module holds. */
	if (get_info(fd, &info) || info.maps != before.maps) {
		printf("FAIL unchanged: maps 0x%x, were 0x%x\n", info.maps, before.maps);
		failures++;
	} else {
		printf("ok unchanged: maps 0x%x\n", info.maps);
	}
	printf("negative_failures=%d\n", failures);
	return failures ? 1 : 0;
}

/* ---- load/unload cycles, without a process per step ---------------------------------------- */
static int load_module(const char *path, const char *params)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -1;
	ret = syscall(SYS_finit_module, fd, params, 0);
	close(fd);
	return ret;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmd_cycles(int argc, char **argv)
{
	int n = atoi(argv[0]);
	const char *ko = argv[1], *testrx = argv[2], *dir = argv[3];
	double start = now_s(), t, spent[5] = { 0 };
	struct oobk_maps req;

	maps_req(&req, dir, 0); /* opened once: the module takes references of its own */
	for (int i = 1; i <= n; i++) {
		int fd;

		t = now_s();
		if (load_module(ko, "route_refresh_ms=0"))
			die("cycle %d: load oobbpf: %s", i, strerror(errno));
		spent[0] += now_s() - t;
		t = now_s();
		fd = ctl_fd();
		if (ioctl(fd, OOBK_IOC_SET_MAPS, &req))
			die("cycle %d: SET_MAPS: %s", i, strerror(errno));
		spent[1] += now_s() - t;
		t = now_s();
		for (int a = 4; a < argc; a++) {
			struct oobk_port_req pr = { .size = sizeof(pr), .version = OOBK_IOCTL_VERSION,
						    .ifindex = ifindex_of(argv[a]) };

			if (ioctl(fd, OOBK_IOC_RX_ATTACH, &pr))
				die("cycle %d: attach %s: %s", i, argv[a], strerror(errno));
		}
		close(fd);
		spent[2] += now_s() - t;
		t = now_s();
		if (i % 2 == 0) {
			if (load_module(testrx, ""))
				die("cycle %d: load oobbpf_testrx: %s", i, strerror(errno));
			if (syscall(SYS_delete_module, "oobbpf_testrx", O_NONBLOCK))
				die("cycle %d: unload oobbpf_testrx: %s", i, strerror(errno));
		}
		spent[3] += now_s() - t;
		t = now_s();
		if (syscall(SYS_delete_module, "oobbpf", O_NONBLOCK))
			die("cycle %d: unload oobbpf: %s", i, strerror(errno));
		spent[4] += now_s() - t;
		if (i % 20 == 0) {
			printf("cycle %d at %.1f s\n", i, now_s() - start);
			fflush(stdout);
		}
	}
	printf("cycles=%d seconds=%.1f (load %.1f, hand %.1f, attach %.1f, receiver %.1f, "
	       "unload %.1f)\n",
	       n, now_s() - start, spent[0], spent[1], spent[2], spent[3], spent[4]);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	libbpf_set_print(NULL);
	if (!strcmp(cmd, "maps"))
		return cmd_maps(argc - 2, argv + 2);
	if (!strcmp(cmd, "hand"))
		return cmd_hand(argc - 2, argv + 2);
	if (!strcmp(cmd, "cycles") && argc >= 6)
		return cmd_cycles(argc - 2, argv + 2);
	if (!strcmp(cmd, "events") && argc >= 4)
		return cmd_events(argc - 2, argv + 2);
	if (!strcmp(cmd, "up") && argc >= 3)
		return cmd_up(argc - 2, argv + 2);
	if (!strcmp(cmd, "clear"))
		return ioctl(ctl_fd(), OOBK_IOC_CLEAR_MAPS) ? (die("clear: %s", strerror(errno)), 1) : 0;
	if (!strcmp(cmd, "info"))
		return cmd_info();
	if (!strcmp(cmd, "attach") && argc == 3)
		return cmd_port_req(OOBK_IOC_RX_ATTACH, argv[2]);
	if (!strcmp(cmd, "detach") && argc == 3)
		return cmd_port_req(OOBK_IOC_RX_DETACH, argv[2]);
	if (!strcmp(cmd, "config") && argc == 3)
		return cmd_config(argv + 2);
	if (!strcmp(cmd, "port") && argc == 5)
		return cmd_port(argv + 2);
	if (!strcmp(cmd, "vlanport") && argc == 5)
		return cmd_vlanport(argv + 2);
	if (!strcmp(cmd, "vlanset") && argc == 6)
		return cmd_vlanset(argv + 2);
	if (!strcmp(cmd, "rule"))
		return cmd_rule(argc - 2, argv + 2);
	if (!strcmp(cmd, "stats") && argc == 4)
		return cmd_stats(argv + 2);
	if (!strcmp(cmd, "rstats") && argc == 4)
		return cmd_rstats(argv + 2);
	if (!strcmp(cmd, "routes") && argc == 3)
		return cmd_routes(argv + 2);
	if (!strcmp(cmd, "neighs") && argc == 3)
		return cmd_neighs(argv + 2);
	if (!strcmp(cmd, "send") && argc >= 4)
		return cmd_send(argc - 2, argv + 2);
	if (!strcmp(cmd, "negative") && argc == 3)
		return cmd_negative(argv + 2);
	die("usage: see the header of tests/vm/kmodctl.c");
	return 1;
}
