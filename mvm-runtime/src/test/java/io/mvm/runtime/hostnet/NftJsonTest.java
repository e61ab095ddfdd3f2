package io.mvm.runtime.hostnet;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.core.netpolicy.NftChain;
import io.mvm.core.netpolicy.NftFamily;
import io.mvm.core.netpolicy.NftTable;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** nft's JSON (as nft 1.0.6 prints it here) to the canonical chains drift is compared on. */
class NftJsonTest {
    static String listing(int handle, long packets) {
        return """
                {"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
                 {"table": {"family": "inet", "name": "mvm", "handle": %d}},
                 {"chain": {"family": "inet", "table": "mvm", "name": "forward", "handle": 1, "type": "filter",
                            "hook": "forward", "prio": 0, "policy": "accept"}},
                 {"chain": {"family": "inet", "table": "mvm", "name": "port_t1", "handle": 2}},
                 {"rule": {"family": "inet", "table": "mvm", "chain": "forward", "handle": %d, "comment": "r1",
                           "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "t1"}},
                                    {"counter": %s}, {"accept": null}]}},
                 {"table": {"family": "inet", "name": "other", "handle": 9}},
                 {"rule": {"family": "inet", "table": "other", "chain": "c", "handle": 3, "expr": [{"drop": null}]}}]}
                """.formatted(handle, handle + 4, packets < 0 ? "null" : "{\"packets\": " + packets + ", \"bytes\": 1}");
    }

    @Test
    void handlesAreIgnoredAndRulesKeepTheirCommentAsLabel() {
        Map<NftFamily, NftTable> a = NftJson.parse(listing(1, -1), "mvm");
        Map<NftFamily, NftTable> b = NftJson.parse(listing(7, -1), "mvm");
        assertThat(a).isEqualTo(b).containsOnlyKeys(NftFamily.INET);
        NftTable t = a.get(NftFamily.INET);
        assertThat(t.chains()).extracting(NftChain::name).containsExactly("forward", "port_t1");
        NftChain forward = t.chain("forward").orElseThrow();
        assertThat(forward.hook()).contains("type=filter hook=forward prio=0 policy=accept");
        assertThat(t.chain("port_t1").orElseThrow().hook()).isEqualTo(Optional.empty());
        assertThat(forward.rules()).hasSize(1);
        assertThat(NftChain.label(forward.rules().get(0))).isEqualTo("r1");
        assertThat(forward.rules().get(0)).contains("\"iifname\"").doesNotContain("handle");
    }

    @Test
    void aChangedRuleOrCounterStateIsSeen() {
        NftTable stateless = NftJson.parse(listing(1, -1), "mvm").get(NftFamily.INET);
        // Only 'nft -s' leaves counters empty; anything else in an expression is a different rule.
        NftTable counted = NftJson.parse(listing(1, 5), "mvm").get(NftFamily.INET);
        assertThat(counted).isNotEqualTo(stateless);
        NftTable other = NftJson.parse(listing(1, -1).replace("\"right\": \"t1\"", "\"right\": \"t2\""), "mvm").get(NftFamily.INET);
        assertThat(other).isNotEqualTo(stateless);
    }
}
