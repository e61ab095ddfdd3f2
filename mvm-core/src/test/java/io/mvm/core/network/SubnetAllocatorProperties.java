package io.mvm.core.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

class SubnetAllocatorProperties {

    /** An operation of the random walk: create a tenant, or delete the n-th live one. */
    record Op(boolean create, int pick) {}

    @Provide
    Arbitrary<List<Op>> operations() {
        Arbitrary<Op> op = Arbitraries.integers().between(0, 1000)
                .flatMap(pick -> Arbitraries.of(true, true, false).map(create -> new Op(create, pick)));
        return op.list().ofMaxSize(300);
    }

    @Property(tries = 200)
    void randomCreatesAndDeletesNeverOverlapAndLiveTenantsKeepTheirSubnets(
            @ForAll("operations") List<Op> ops, @ForAll @IntRange(min = 18, max = 24) int clusterPrefix) {
        SubnetAllocator allocator = new SubnetAllocator(Ipv4Cidr.parse("10.240.0.0/" + clusterPrefix));
        Map<Integer, Ipv4Cidr> live = new HashMap<>();
        Map<Integer, Ipv4Cidr> firstSeen = new HashMap<>();
        List<Integer> order = new ArrayList<>();
        for (Op op : ops) {
            if (op.create()) {
                if (live.size() == allocator.capacity()) {
                    assertThatThrownBy(() -> allocator.allocate(live.keySet()))
                            .extracting(e -> ((MvmException) e).category())
                            .isEqualTo(ErrorCategory.RESOURCE_EXHAUSTED);
                    continue;
                }
                int netId = allocator.allocate(live.keySet());
                Ipv4Cidr subnet = allocator.subnetOf(netId);
                assertThat(live).doesNotContainKey(netId);
                for (Ipv4Cidr other : live.values()) {
                    assertThat(subnet.overlaps(other)).as("%s overlaps %s", subnet, other).isFalse();
                }
                assertThat(allocator.cluster().contains(subnet.base())).isTrue();
                assertThat(subnet.prefix()).isEqualTo(24);
                live.put(netId, subnet);
                firstSeen.putIfAbsent(netId, subnet);
                order.add(netId);
            } else if (!order.isEmpty()) {
                live.remove(order.remove(op.pick() % order.size()));
            }
            // Live tenants keep theirs: the mapping from id to subnet is a pure function.
            live.forEach((id, subnet) -> assertThat(allocator.subnetOf(id)).isEqualTo(subnet));
        }
    }

    @Example
    void defaultClusterHas4096SubnetsThenExhausts() {
        SubnetAllocator allocator = new SubnetAllocator(SubnetAllocator.DEFAULT_CLUSTER_CIDR);
        Set<Integer> used = new HashSet<>();
        Set<Ipv4Cidr> subnets = new HashSet<>();
        for (int i = 0; i < 4096; i++) {
            int id = allocator.allocate(used);
            used.add(id);
            subnets.add(allocator.subnetOf(id));
        }
        assertThat(subnets).hasSize(4096);
        assertThat(allocator.subnetOf(1)).hasToString("10.240.0.0/24");
        assertThat(allocator.subnetOf(4096)).hasToString("10.255.255.0/24");
        assertThatThrownBy(() -> allocator.allocate(used))
                .isInstanceOf(MvmException.class)
                .hasMessageContaining("all 4096 /24 subnets of 10.240.0.0/12 are in use");
    }

    @Example
    void smallClusterExhaustsQuickly() {
        SubnetAllocator allocator = new SubnetAllocator(Ipv4Cidr.parse("192.168.4.0/23"));
        assertThat(allocator.capacity()).isEqualTo(2);
        assertThat(allocator.allocate(Set.of())).isEqualTo(1);
        assertThat(allocator.allocate(Set.of(1))).isEqualTo(2);
        assertThat(allocator.subnetOf(2)).hasToString("192.168.5.0/24");
        assertThatThrownBy(() -> allocator.allocate(Set.of(1, 2))).hasMessageContaining("all 2 /24");
    }

    @Example
    void rejectsBadClusterCidrs() {
        assertThatThrownBy(() -> Ipv4Cidr.parse("10.240.0.1/12")).hasMessageContaining("host bits");
        assertThatThrownBy(() -> Ipv4Cidr.parse("10.240.0.0")).hasMessageContaining("a.b.c.d/len");
        assertThatThrownBy(() -> new SubnetAllocator(Ipv4Cidr.parse("10.0.0.0/25"))).hasMessageContaining("smaller");
        assertThatThrownBy(() -> Ipv4Cidr.parse("300.0.0.0/8")).hasMessageContaining("octet");
    }

    @Example
    void hostAddressesSkipGatewayAndExhaust() {
        TenantSubnet subnet = new TenantSubnet(Ipv4Cidr.parse("10.240.3.0/24"));
        assertThat(Ipv4.format(subnet.gateway())).isEqualTo("10.240.3.1");
        Set<Integer> used = new HashSet<>();
        for (int i = 0; i < 253; i++) {
            int address = subnet.allocateHost(used);
            assertThat(address & 0xff).isBetween(2, 254);
            assertThat(used.add(address)).isTrue();
        }
        assertThatThrownBy(() -> subnet.allocateHost(used))
                .extracting(e -> ((MvmException) e).category())
                .isEqualTo(ErrorCategory.RESOURCE_EXHAUSTED);
    }
}
