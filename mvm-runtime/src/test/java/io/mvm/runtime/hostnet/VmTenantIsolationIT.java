package io.mvm.runtime.hostnet;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.core.netpolicy.DeviceNames;
import io.mvm.core.netpolicy.HostNetworkSpec;
import io.mvm.core.netpolicy.InstancePort;
import io.mvm.core.netpolicy.Ipv4Address;
import io.mvm.core.netpolicy.Ipv4Subnet;
import io.mvm.core.netpolicy.NftFamily;
import io.mvm.core.netpolicy.RulesetRenderer;
import io.mvm.core.netpolicy.TenantNetwork;
import io.mvm.model.Accelerator;
import io.mvm.model.InstanceId;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import io.mvm.runtime.accel.AcceleratorChoice;
import io.mvm.runtime.accel.AcceleratorProbe;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.backend.VmmProcess;
import io.mvm.runtime.cgroup.CgroupLimits;
import io.mvm.runtime.cgroup.VmCgroup;
import io.mvm.runtime.drive.Ext4Image;
import io.mvm.runtime.drive.VmDrives;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.guest.VirtioSerialGuestChannel;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.runtime.qemu.QemuBackend;
import io.mvm.runtime.testing.HostCapabilities;
import io.mvm.runtime.testing.TestMicroVm;
import io.mvm.runtime.vm.LocalVms;
import io.mvm.runtime.vm.VmDirectory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The isolation tests again, with real QEMU microVMs as the guests: a1 and a2 in tenant a, b1 in
 * tenant b, checked from inside the guests through their agents. Each VM's tap is created on the
 * host, QEMU attaches to it, and the tap is then moved into a network namespace that plays the host
 * network (bridges, mvm's tables, ip_forward on), so the test never changes the real host's
 * forwarding or routing and cannot collide with another run. Ordered: the steps share three VMs.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class VmTenantIsolationIT {
    private static final Duration CALL = Duration.ofSeconds(60);
    private static final TenantId A = TenantId.of("a");
    private static final TenantId B = TenantId.of("b");
    private static final TenantNetwork NET_A = new TenantNetwork(A, 1, Ipv4Subnet.parse("10.78.1.0/24"), false);
    private static final TenantNetwork NET_B = new TenantNetwork(B, 2, Ipv4Subnet.parse("10.78.2.0/24"), false);
    private static final String A1_IP = "10.78.1.2";
    private static final String A2_IP = "10.78.1.3";
    private static final String B1_IP = "10.78.2.2";

    private static final String id = HexFormat.of().formatHex(new SecureRandom().generateSeed(3));
    private static final String hostNs = "mvh" + id;
    private static final String table = "mvm_v" + id;
    private static Path dataDir;
    private static LocalVms vms;
    private static CgroupLimits cgroups;
    private static boolean namespaceCreated;
    private static final List<String> tapsOnHost = new ArrayList<>();
    private static InstancePort a1;
    private static InstancePort a2;
    private static InstancePort b1;
    private static HostNetworkApplier applier;
    private static Thread reaper;

    @BeforeAll
    static void bootThreeGuests() throws Exception {
        HostCapabilities.requireVmHost();
        io.mvm.runtime.hostnet.HostCapabilities.requireHostNetworking();
        Path shared = HostCapabilities.testDataDir();
        GuestImage image = ImageBuilder.ensureDefaultImage(shared, ProgressListener.NONE);
        Optional<Accelerator> override = Optional.ofNullable(System.getenv("MVM_ACCEL")).map(Accelerator::parse);
        AcceleratorChoice accel = AcceleratorProbe.standard(InstantSource.system()).choose(shared, image, override);
        dataDir = Files.createTempDirectory("mvm-net-vm-it-");
        // The VMMs are detached daemons: if this JVM dies before @AfterAll, still kill them.
        reaper = io.mvm.runtime.testing.ProcessReaper.reapOnExit(dataDir);
        cgroups = CgroupLimits.detect();
        vms = new LocalVms(dataDir, new QemuBackend(QemuBackend.Settings.defaults(accel.accelerator(), accel.reason()),
                new VmDrives(Ext4Image.system()), cgroups, VirtioSerialGuestChannel::connect, InstantSource.system()),
                InstantSource.system());

        a1 = port("nva1-" + id, A, A1_IP);
        a2 = port("nva2-" + id, A, A2_IP);
        b1 = port("nvb1-" + id, B, B1_IP);
        HostCommands root = HostCommands.onThisHost();
        root.runOrFail("ip", "netns", "add", hostNs);
        namespaceCreated = true;
        HostCommands host = HostCommands.inNamespace(hostNs);
        host.runOrFail("ip", "link", "set", "lo", "up");
        host.runOrFail("sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
        for (InstancePort p : List.of(a1, a2, b1)) {
            root.runOrFail("ip", "tuntap", "add", "dev", p.portName(), "mode", "tap");
            tapsOnHost.add(p.portName());
        }
        try (ExecutorService boots = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> pending = new ArrayList<>();
            HostNetworkSpec network = spec(List.of(NET_A, NET_B));
            for (InstancePort p : List.of(a1, a2, b1)) {
                VmSpec spec = VmSpec.builder(p.instance().value(), image).vcpus(1).memoryMib(256)
                        .nic(GuestNetworkConfig.nic(network, p.instance()))
                        .build();
                pending.add(boots.submit(() -> vms.run(spec)));
            }
            for (Future<?> f : pending) {
                f.get();
            }
        }
        // QEMU holds its tap by file descriptor; the device itself can move to the lab's host namespace.
        for (InstancePort p : List.of(a1, a2, b1)) {
            root.runOrFail("ip", "link", "set", "dev", p.portName(), "netns", hostNs);
            tapsOnHost.remove(p.portName());
        }
        applier = new HostNetworkApplier(host);
        applier.apply(spec(List.of(NET_A, NET_B)));
    }

    @AfterAll
    static void cleanUp() throws Exception {
        if (vms != null) {
            for (InstancePort p : Stream.of(a1, a2, b1).filter(java.util.Objects::nonNull).toList()) {
                try {
                    vms.destroy(p.instance().value());
                } catch (RuntimeException e) {
                    System.err.println("destroy " + p.instance() + ": " + e.getMessage());
                }
            }
            killLeftoverVmms();
        }
        if (dataDir != null) {
            io.mvm.runtime.testing.ProcessReaper.killAllMentioning(dataDir);
            io.mvm.runtime.testing.ProcessReaper.cancel(reaper);
        }
        HostCommands root = HostCommands.onThisHost();
        for (String tap : tapsOnHost) {
            root.run(List.of("ip", "link", "del", "dev", tap), "");
        }
        if (namespaceCreated) {
            root.run(List.of("ip", "netns", "del", hostNs), "");
        }
        if (dataDir != null) {
            TestMicroVm.deleteTree(dataDir);
        }
    }

    private static void killLeftoverVmms() throws Exception {
        Path root = dataDir.resolve("vms");
        if (!Files.isDirectory(root)) {
            return;
        }
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path dir : dirs.filter(Files::isDirectory).toList()) {
                Optional<VmHandle> handle = new VmDirectory(dir).handle();
                handle.map(VmHandle::process).ifPresent(VmmProcess::kill);
                handle.map(h -> VmCgroup.decode(h.cgroup())).ifPresent(g -> {
                    for (int i = 0; i < 300 && handle.get().process().isAlive(); i++) {
                        sleep(100);
                    }
                    cgroups.remove(g);
                });
            }
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static InstancePort port(String name, TenantId tenant, String ip) {
        return InstancePort.tap(InstanceId.of(name), tenant, Ipv4Address.parse(ip), Role.WORKER);
    }

    private static HostNetworkSpec spec(List<TenantNetwork> tenants) {
        List<InstancePort> ports = Stream.of(a1, a2, b1)
                .filter(p -> tenants.stream().anyMatch(t -> t.tenant().equals(p.tenant()))).toList();
        return new HostNetworkSpec(table, Optional.empty(), tenants, ports, List.of());
    }

    private static GuestChannel.ExecResult exec(InstancePort guest, String... argv) {
        try (GuestChannel channel = vms.guest(guest.instance().value())) {
            return channel.exec(GuestChannel.ExecRequest.of(CALL, argv));
        }
    }

    private static boolean ping(InstancePort from, String address) {
        return exec(from, "ping", "-c", "1", "-W", "2", address).exitCode() == 0;
    }

    private static boolean pingEventually(InstancePort from, String address) {
        for (int i = 0; i < 5; i++) {
            if (ping(from, address)) {
                return true;
            }
        }
        return false;
    }

    private static void listenTcp(InstancePort guest, int port) {
        exec(guest, "sh", "-c", "nc -l -p " + port + " </dev/null >/dev/null 2>&1 &");
    }

    private static boolean tcpConnects(InstancePort from, String address, int port) {
        return exec(from, "sh", "-c", "nc -w 3 " + address + " " + port + " </dev/null").exitCode() == 0;
    }

    /** One UDP datagram (a DNS query) from a guest: busybox nslookup is the guest's UDP client. */
    private static void sendUdp(InstancePort from, String address) {
        exec(from, "timeout", "4", "nslookup", "probe.invalid", address);
    }

    private static long counter(String comment) {
        return NetnsLab.counter(HostCommands.inNamespace(hostNs).runOrFail("nft", "list", "table", "inet", table), comment);
    }

    private static long bridgeCounter(String comment) {
        return NetnsLab.counter(HostCommands.inNamespace(hostNs).runOrFail("nft", "list", "table", "bridge", table), comment);
    }

    @Test
    @Order(1)
    void guestsOfOneTenantReachEachOther() {
        assertThat(applier.verify(spec(List.of(NET_A, NET_B)))).isEmpty();
        assertThat(pingEventually(a1, A2_IP)).as("a1 -> a2 ping").isTrue();
        assertThat(pingEventually(a2, A1_IP)).as("a2 -> a1 ping").isTrue();
        listenTcp(a2, 7000);
        boolean connected = false;
        for (int i = 0; i < 5 && !connected; i++) {
            connected = tcpConnects(a1, A2_IP, 7000);
        }
        assertThat(connected).as("a1 -> a2 tcp").isTrue();
    }

    @Test
    @Order(2)
    void guestsOfDifferentTenantsReachNothingInEitherDirection() {
        long aDrops = counter("tenant a: deny forward from tenant");
        long bDrops = counter("tenant b: deny forward from tenant");
        listenTcp(b1, 7001);
        listenTcp(a1, 7001);
        assertThat(ping(a1, B1_IP)).as("a1 -> b1 ping").isFalse();
        assertThat(tcpConnects(a1, B1_IP, 7001)).as("a1 -> b1 tcp").isFalse();
        long aBeforeUdp = counter("tenant a: deny forward from tenant");
        sendUdp(a1, B1_IP);
        assertThat(counter("tenant a: deny forward from tenant")).as("a1 -> b1 udp dropped").isGreaterThan(aBeforeUdp);
        assertThat(ping(b1, A1_IP)).as("b1 -> a1 ping").isFalse();
        assertThat(tcpConnects(b1, A1_IP, 7001)).as("b1 -> a1 tcp").isFalse();
        long bBeforeUdp = counter("tenant b: deny forward from tenant");
        sendUdp(b1, A1_IP);
        assertThat(counter("tenant b: deny forward from tenant")).as("b1 -> a1 udp dropped").isGreaterThan(bBeforeUdp);
        assertThat(counter("tenant a: deny forward from tenant") - aDrops).isGreaterThanOrEqualTo(3);
        assertThat(counter("tenant b: deny forward from tenant") - bDrops).isGreaterThanOrEqualTo(3);

        // Control: without the inet table the lab host routes between the tenants.
        HostCommands.inNamespace(hostNs).runOrFail("nft", "delete", "table", "inet", table);
        assertThat(pingEventually(a1, B1_IP)).as("a1 -> b1 with the rules gone").isTrue();
        applier.apply(spec(List.of(NET_A, NET_B)));
        assertThat(ping(a1, B1_IP)).as("a1 -> b1 after repair").isFalse();
    }

    @Test
    @Order(3)
    void aGuestThatTakesAnotherTenantsAddressGetsNoPacketThrough() {
        long spoofDrops = bridgeCounter("instance " + a1.instance() + ": spoofed");
        try {
            exec(a1, "sh", "-c", "ip addr flush dev eth0 && ip addr add " + B1_IP + "/24 dev eth0"
                    + " && ip route add 10.78.1.0/24 dev eth0");
            assertThat(ping(a1, A2_IP)).as("spoofing a1 -> a2").isFalse();
            assertThat(ping(a1, "10.78.2.1")).as("spoofing a1 -> b's bridge").isFalse();
            assertThat(ping(a1, "10.78.1.1")).as("spoofing a1 -> a's bridge").isFalse();
            assertThat(bridgeCounter("instance " + a1.instance() + ": spoofed")).isGreaterThan(spoofDrops);
        } finally {
            exec(a1, "sh", "-c", "ip addr flush dev eth0; ip addr add " + A1_IP + "/24 dev eth0;"
                    + " ip route replace default via 10.78.1.1");
        }
        assertThat(pingEventually(a1, A2_IP)).as("a1 -> a2 with its own address again").isTrue();
    }

    @Test
    @Order(4)
    void destroyingTenantBRemovesItsBridgeTapAndRulesAndARestartChangesNothing() {
        VmHandle handle = vms.handle(b1.instance().value());
        Path vmDir = vms.directory(b1.instance().value());
        VmCgroup group = VmCgroup.decode(handle.cgroup());
        HostCommands host = HostCommands.inNamespace(hostNs);

        vms.destroy(b1.instance().value());

        // The runtime removes everything of the VM: process, sockets, cgroup, files...
        assertThat(handle.process().isAlive()).isFalse();
        assertThat(io.mvm.runtime.testing.ProcessReaper.mentioning(vmDir)).isEmpty();
        assertThat(vmDir).doesNotExist();
        assertThat(handle.controlSocket()).doesNotExist();
        assertThat(handle.agentSocket()).doesNotExist();
        if (cgroups.available()) {
            assertThat(group).isNotNull();
            assertThat(group.dirs()).allSatisfy(d -> assertThat(d).doesNotExist());
        }
        // ...but not the tap: taps belong to the network layer, which made it and removes it when
        // the instance leaves its spec.
        assertThat(host.runOrFail("ip", "-o", "link")).contains(b1.portName());
        HostNetworkSpec onlyA = spec(List.of(NET_A));
        applier.apply(onlyA);

        assertThat(host.runOrFail("ip", "-o", "link")).doesNotContain(NET_B.bridgeName() + ":", b1.portName());
        assertThat(host.runOrFail("nft", "-s", "list", "ruleset")).doesNotContain(NET_B.bridgeName(), "tenant b",
                b1.portName());
        assertThat(applier.verify(onlyA)).isEmpty();

        String before = host.runOrFail("nft", "-s", "list", "ruleset");
        assertThat(new HostNetworkApplier(host).apply(onlyA)).as("restarted agent's apply").isEmpty();
        assertThat(host.runOrFail("nft", "-s", "list", "ruleset")).isEqualTo(before);
        assertThat(RulesetRenderer.render(onlyA).table(NftFamily.BRIDGE).orElseThrow().chains())
                .extracting(io.mvm.core.netpolicy.NftChain::name)
                .containsExactly("prerouting", "forward", "port_" + a1.portName(), "port_" + a2.portName(), "tenant_1");
        assertThat(pingEventually(a1, A2_IP)).as("tenant a unaffected").isTrue();
        assertThat(DeviceNames.tap(a1.instance())).isEqualTo(a1.portName());
    }
}
