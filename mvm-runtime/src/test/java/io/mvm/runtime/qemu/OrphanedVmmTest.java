package io.mvm.runtime.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** A VMM is this VM's only if its -qmp argument names exactly this VM's socket. */
class OrphanedVmmTest {
    static List<String> argv(String qmp) {
        return List.of("qemu-system-x86_64", "-M", "microvm", "-qmp", qmp, "-pidfile", "/x/qemu.pid");
    }

    @Test
    void matchesTheExactSocketOnly() {
        String socket = "/var/lib/mvm/vms/web-1/vmm/qmp.sock";
        assertThat(OrphanedVmm.namesMonitor(argv("unix:/var/lib/mvm/vms/web-1/vmm/qmp.sock,server=on,wait=off"), socket)).isTrue();
        // A substring match would take web-10's VMM (or one under another data dir) for web-1's.
        assertThat(OrphanedVmm.namesMonitor(argv("unix:/var/lib/mvm/vms/web-10/vmm/qmp.sock,server=on,wait=off"),
                "/var/lib/mvm/vms/web-1")).isFalse();
        assertThat(OrphanedVmm.namesMonitor(argv("unix:/other/var/lib/mvm/vms/web-1/vmm/qmp.sock,server=on"), socket)).isFalse();
        assertThat(OrphanedVmm.namesMonitor(argv("unix:/var/lib/mvm/vms/web-1/vmm/qmp.sock.old,server=on"), socket)).isFalse();
        // The socket named elsewhere than in -qmp (e.g. in -append) does not count either.
        assertThat(OrphanedVmm.namesMonitor(List.of("qemu", "-append", "unix:" + socket), socket)).isFalse();
        // QEMU's option syntax doubles a literal comma.
        assertThat(OrphanedVmm.namesMonitor(argv("unix:/d,,1/vmm/qmp.sock,server=on"), "/d,1/vmm/qmp.sock")).isTrue();
    }
}
