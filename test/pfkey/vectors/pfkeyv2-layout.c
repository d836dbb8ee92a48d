/* Prints sizeof/offsetof of every struct in <linux/pfkeyv2.h>. Output: pfkeyv2-layout.x86_64.txt
 * (gcc on Debian, linux-libc-dev 6.1 headers, x86_64): gcc -o l pfkeyv2-layout.c && ./l */
#include <stdio.h>
#include <stddef.h>
#include <linux/pfkeyv2.h>
#define S(t) printf("SIZE %s %zu\n", #t, sizeof(struct t));
#define O(t,f) printf("OFF %s %s %zu %zu\n", #t, #f, offsetof(struct t, f), sizeof(((struct t*)0)->f));
int main(void){
S(sadb_msg) S(sadb_sa) O(sadb_sa,sadb_sa_spi) O(sadb_sa,sadb_sa_replay) O(sadb_sa,sadb_sa_state) O(sadb_sa,sadb_sa_auth) O(sadb_sa,sadb_sa_encrypt) O(sadb_sa,sadb_sa_flags)
S(sadb_lifetime) O(sadb_lifetime,sadb_lifetime_allocations) O(sadb_lifetime,sadb_lifetime_bytes) O(sadb_lifetime,sadb_lifetime_addtime) O(sadb_lifetime,sadb_lifetime_usetime)
S(sadb_address) O(sadb_address,sadb_address_proto) O(sadb_address,sadb_address_prefixlen)
S(sadb_key) O(sadb_key,sadb_key_bits)
S(sadb_ident) O(sadb_ident,sadb_ident_type) O(sadb_ident,sadb_ident_id)
S(sadb_sens) O(sadb_sens,sadb_sens_dpd) O(sadb_sens,sadb_sens_sens_level) O(sadb_sens,sadb_sens_sens_len) O(sadb_sens,sadb_sens_integ_level) O(sadb_sens,sadb_sens_integ_len)
S(sadb_prop) O(sadb_prop,sadb_prop_replay)
S(sadb_comb) O(sadb_comb,sadb_comb_auth) O(sadb_comb,sadb_comb_encrypt) O(sadb_comb,sadb_comb_flags) O(sadb_comb,sadb_comb_auth_minbits) O(sadb_comb,sadb_comb_auth_maxbits) O(sadb_comb,sadb_comb_encrypt_minbits) O(sadb_comb,sadb_comb_encrypt_maxbits) O(sadb_comb,sadb_comb_soft_allocations) O(sadb_comb,sadb_comb_hard_allocations) O(sadb_comb,sadb_comb_soft_bytes) O(sadb_comb,sadb_comb_hard_bytes) O(sadb_comb,sadb_comb_soft_addtime) O(sadb_comb,sadb_comb_hard_addtime) O(sadb_comb,sadb_comb_soft_usetime) O(sadb_comb,sadb_comb_hard_usetime)
S(sadb_supported) S(sadb_alg) O(sadb_alg,sadb_alg_id) O(sadb_alg,sadb_alg_ivlen) O(sadb_alg,sadb_alg_minbits) O(sadb_alg,sadb_alg_maxbits)
S(sadb_spirange) O(sadb_spirange,sadb_spirange_min) O(sadb_spirange,sadb_spirange_max)
S(sadb_x_kmprivate) O(sadb_x_kmprivate,sadb_x_kmprivate_reserved)
S(sadb_x_sa2) O(sadb_x_sa2,sadb_x_sa2_mode) O(sadb_x_sa2,sadb_x_sa2_sequence) O(sadb_x_sa2,sadb_x_sa2_reqid)
S(sadb_x_policy) O(sadb_x_policy,sadb_x_policy_type) O(sadb_x_policy,sadb_x_policy_dir) O(sadb_x_policy,sadb_x_policy_id) O(sadb_x_policy,sadb_x_policy_priority)
S(sadb_x_ipsecrequest) O(sadb_x_ipsecrequest,sadb_x_ipsecrequest_len) O(sadb_x_ipsecrequest,sadb_x_ipsecrequest_proto) O(sadb_x_ipsecrequest,sadb_x_ipsecrequest_mode) O(sadb_x_ipsecrequest,sadb_x_ipsecrequest_level) O(sadb_x_ipsecrequest,sadb_x_ipsecrequest_reqid)
S(sadb_x_nat_t_type) O(sadb_x_nat_t_type,sadb_x_nat_t_type_type)
S(sadb_x_nat_t_port) O(sadb_x_nat_t_port,sadb_x_nat_t_port_port)
S(sadb_x_sec_ctx) O(sadb_x_sec_ctx,sadb_x_ctx_alg) O(sadb_x_sec_ctx,sadb_x_ctx_doi) O(sadb_x_sec_ctx,sadb_x_ctx_len)
S(sadb_x_kmaddress)
S(sadb_x_filter) O(sadb_x_filter,sadb_x_filter_saddr) O(sadb_x_filter,sadb_x_filter_daddr) O(sadb_x_filter,sadb_x_filter_family) O(sadb_x_filter,sadb_x_filter_splen) O(sadb_x_filter,sadb_x_filter_dplen)
printf("EXT KMADDRESS %d FILTER %d SEC_CTX %d MAX %d MIGRATE %d\n", SADB_X_EXT_KMADDRESS, SADB_X_EXT_FILTER, SADB_X_EXT_SEC_CTX, SADB_EXT_MAX, SADB_X_MIGRATE);
return 0;}
