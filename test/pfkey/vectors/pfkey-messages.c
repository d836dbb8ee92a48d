/*
 * Builds PF_KEY messages with the real structs of <linux/pfkeyv2.h> and the
 * libc sockaddr_in/sockaddr_in6, and prints each as "name hex".
 * Output: pfkey-messages.x86_64.txt. Regenerate:
 *   gcc -o m pfkey-messages.c && ./m > pfkey-messages.x86_64.txt
 */
#include <arpa/inet.h>
#include <linux/ipsec.h>
#include <linux/pfkeyv2.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define ALIGN8(x) (((x) + 7) & ~7)
static unsigned char buf[4096];
static size_t len;

static void *put(size_t n) { void *p = buf + len; memset(p, 0, ALIGN8(n)); len += ALIGN8(n); return p; }
static void begin(int type, int satype, unsigned seq, unsigned pid) {
  len = 0;
  struct sadb_msg *m = put(sizeof *m);
  m->sadb_msg_version = PF_KEY_V2; m->sadb_msg_type = type; m->sadb_msg_satype = satype;
  m->sadb_msg_seq = seq; m->sadb_msg_pid = pid;
}
static void end(const char *name) {
  ((struct sadb_msg *)buf)->sadb_msg_len = len / 8;
  printf("%s ", name);
  for (size_t i = 0; i < len; i++) printf("%02x", buf[i]);
  printf("\n");
}
static size_t sa4(void *p, const char *a, int port) {
  struct sockaddr_in *s = p; s->sin_family = AF_INET; s->sin_port = htons(port); inet_pton(AF_INET, a, &s->sin_addr);
  return sizeof *s;
}
static size_t sa6(void *p, const char *a, int port) {
  struct sockaddr_in6 *s = p; s->sin6_family = AF_INET6; s->sin6_port = htons(port); inet_pton(AF_INET6, a, &s->sin6_addr);
  return sizeof *s;
}
static void address(int type, int family, const char *a, int port, int plen, int proto) {
  size_t salen = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  struct sadb_address *x = put(sizeof *x + salen);
  x->sadb_address_len = ALIGN8(sizeof *x + salen) / 8; x->sadb_address_exttype = type;
  x->sadb_address_proto = proto; x->sadb_address_prefixlen = plen;
  if (family == AF_INET) sa4(x + 1, a, port); else sa6(x + 1, a, port);
}
static struct sadb_x_policy *pol;
static void policy(int type, int dir, unsigned id, unsigned prio) {
  pol = put(sizeof *pol);
  pol->sadb_x_policy_exttype = SADB_X_EXT_POLICY; pol->sadb_x_policy_type = type; pol->sadb_x_policy_dir = dir;
  pol->sadb_x_policy_id = id; pol->sadb_x_policy_priority = prio;
}
static void request(int proto, int mode, int level, unsigned reqid, int family, const char *src, const char *dst) {
  size_t salen = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  size_t n = sizeof(struct sadb_x_ipsecrequest) + ALIGN8(2 * salen);
  struct sadb_x_ipsecrequest *r = put(n);
  r->sadb_x_ipsecrequest_len = n; r->sadb_x_ipsecrequest_proto = proto; r->sadb_x_ipsecrequest_mode = mode;
  r->sadb_x_ipsecrequest_level = level; r->sadb_x_ipsecrequest_reqid = reqid;
  unsigned char *p = (unsigned char *)(r + 1);
  if (family == AF_INET) { sa4(p, src, 0); sa4(p + salen, dst, 0); } else { sa6(p, src, 0); sa6(p + salen, dst, 0); }
}
static void policy_end(void) { pol->sadb_x_policy_len = (buf + len - (unsigned char *)pol) / 8; }

int main(void) {
  /* af_key pfkey_send_migrate shape, all IPv6, with NAT-T-free KMADDRESS */
  begin(SADB_X_MIGRATE, SADB_SATYPE_ESP, 0, 0);
  {
    size_t salen = sizeof(struct sockaddr_in6);
    struct sadb_x_kmaddress *k = put(sizeof *k + ALIGN8(2 * salen));
    k->sadb_x_kmaddress_len = (sizeof *k + ALIGN8(2 * salen)) / 8; k->sadb_x_kmaddress_exttype = SADB_X_EXT_KMADDRESS;
    sa6(k + 1, "2001:db8:3::10", 0); sa6((unsigned char *)(k + 1) + salen, "2001:db8:2::1", 0);
  }
  address(SADB_EXT_ADDRESS_SRC, AF_INET6, "2001:db8:1::100", 0, 128, 135);
  address(SADB_EXT_ADDRESS_DST, AF_INET6, "2001:db8:2::200", 0, 128, 135);
  policy(IPSEC_POLICY_IPSEC, IPSEC_DIR_INBOUND, 0, 0);
  request(IPPROTO_ESP, IPSEC_MODE_TUNNEL, IPSEC_LEVEL_UNIQUE, 7, AF_INET6, "2001:db8:2::1", "2001:db8:1::10");
  request(IPPROTO_ESP, IPSEC_MODE_TUNNEL, IPSEC_LEVEL_UNIQUE, 7, AF_INET6, "2001:db8:2::1", "2001:db8:3::10");
  policy_end();
  end("migrate-v6");

  /* racoon-style UPDATE behind NAT: SA, SA2, addresses with ports, NAT-T type/ports/OA, keys, lifetimes */
  begin(SADB_UPDATE, SADB_SATYPE_ESP, 42, 3000);
  {
    struct sadb_sa *s = put(sizeof *s);
    s->sadb_sa_len = 2; s->sadb_sa_exttype = SADB_EXT_SA; s->sadb_sa_spi = htonl(0xc0ffee01);
    s->sadb_sa_replay = 4; s->sadb_sa_state = SADB_SASTATE_MATURE; s->sadb_sa_auth = SADB_X_AALG_SHA2_256HMAC;
    s->sadb_sa_encrypt = SADB_X_EALG_AESCBC;
    struct sadb_x_sa2 *s2 = put(sizeof *s2);
    s2->sadb_x_sa2_len = 2; s2->sadb_x_sa2_exttype = SADB_X_EXT_SA2; s2->sadb_x_sa2_mode = IPSEC_MODE_TUNNEL; s2->sadb_x_sa2_reqid = 16385;
  }
  address(SADB_EXT_ADDRESS_SRC, AF_INET, "198.51.100.7", 4500, 32, IPSEC_ULPROTO_ANY);
  address(SADB_EXT_ADDRESS_DST, AF_INET, "192.0.2.1", 4500, 32, IPSEC_ULPROTO_ANY);
  {
    struct sadb_x_nat_t_type *t = put(sizeof *t);
    t->sadb_x_nat_t_type_len = 1; t->sadb_x_nat_t_type_exttype = SADB_X_EXT_NAT_T_TYPE; t->sadb_x_nat_t_type_type = 2;
    struct sadb_x_nat_t_port *sp = put(sizeof *sp);
    sp->sadb_x_nat_t_port_len = 1; sp->sadb_x_nat_t_port_exttype = SADB_X_EXT_NAT_T_SPORT; sp->sadb_x_nat_t_port_port = htons(4500);
    struct sadb_x_nat_t_port *dp = put(sizeof *dp);
    dp->sadb_x_nat_t_port_len = 1; dp->sadb_x_nat_t_port_exttype = SADB_X_EXT_NAT_T_DPORT; dp->sadb_x_nat_t_port_port = htons(4500);
  }
  address(SADB_X_EXT_NAT_T_OA, AF_INET, "10.0.0.7", 0, 0, 0);
  {
    struct sadb_key *k = put(sizeof *k + 32);
    k->sadb_key_len = (sizeof *k + 32) / 8; k->sadb_key_exttype = SADB_EXT_KEY_ENCRYPT; k->sadb_key_bits = 256;
    for (int i = 0; i < 32; i++) ((unsigned char *)(k + 1))[i] = i;
    struct sadb_key *a = put(sizeof *a + 32);
    a->sadb_key_len = (sizeof *a + 32) / 8; a->sadb_key_exttype = SADB_EXT_KEY_AUTH; a->sadb_key_bits = 256;
    for (int i = 0; i < 32; i++) ((unsigned char *)(a + 1))[i] = 0xff - i;
    struct sadb_lifetime *h = put(sizeof *h);
    h->sadb_lifetime_len = 4; h->sadb_lifetime_exttype = SADB_EXT_LIFETIME_HARD; h->sadb_lifetime_addtime = 28800;
    h->sadb_lifetime_bytes = 5000000000ULL;
    struct sadb_lifetime *s = put(sizeof *s);
    s->sadb_lifetime_len = 4; s->sadb_lifetime_exttype = SADB_EXT_LIFETIME_SOFT; s->sadb_lifetime_addtime = 23040;
  }
  end("update-natt");
  return 0;
}
