package io.mvm.runtime.bootstrap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class HostBootstrapTest {

    /** A host whose tools, apt and root-ness the test decides. */
    static final class ScriptedHost implements HostProbe {
        final Set<String> present = new HashSet<>();
        boolean root = true;
        boolean apt = true;

        ScriptedHost withAllBut(String... missing) {
            HostBootstrap.REQUIRED_TOOLS.forEach(t -> present.add(t.command()));
            List.of(missing).forEach(present::remove);
            return this;
        }

        public boolean isRoot() {
            return root;
        }

        public boolean hasApt() {
            return apt;
        }

        public Optional<Path> find(HostTool tool) {
            return present.contains(tool.command()) ? Optional.of(Path.of("/usr/bin", tool.command())) : Optional.empty();
        }
    }

    private final List<List<String>> installs = new ArrayList<>();
    private final List<String> progress = new ArrayList<>();

    private HostBootstrap bootstrap(ScriptedHost host, boolean installWorks) {
        return new HostBootstrap(host, packages -> {
            installs.add(packages);
            if (installWorks) {
                HostBootstrap.REQUIRED_TOOLS.stream().filter(t -> packages.contains(t.debianPackage()))
                        .forEach(t -> host.present.add(t.command()));
            }
        }, InstantSource.system());
    }

    @Test
    void aPreparedHostInstallsNothingAndSaysSo() {
        List<String> installed = bootstrap(new ScriptedHost().withAllBut(), true).ensureTools(true, progress::add);
        assertThat(installed).isEmpty();
        assertThat(installs).isEmpty();
        assertThat(progress).singleElement().asString().startsWith("host tools: all present");
    }

    @Test
    void missingToolsAreInstalledAsTheirDebianPackagesOnce() {
        List<String> installed = bootstrap(new ScriptedHost().withAllBut("qemu-system-x86_64", "busybox", "nft"), true)
                .ensureTools(true, progress::add);
        assertThat(installed).containsExactly("qemu-system-x86", "busybox-static", "nftables");
        assertThat(installs).containsExactly(List.of("qemu-system-x86", "busybox-static", "nftables"));
    }

    @Test
    void withoutRootItNamesTheExactPackagesAndInstallsNothing() {
        ScriptedHost host = new ScriptedHost().withAllBut("mkfs.ext4", "ip");
        host.root = false;
        assertThatThrownBy(() -> bootstrap(host, true).ensureTools(true, progress::add))
                .isInstanceOfSatisfying(MvmException.class, e -> assertThat(e.category()).isEqualTo(ErrorCategory.FAILED_PRECONDITION))
                .hasMessageContaining("mkfs.ext4 (package e2fsprogs")
                .hasMessageContaining("ip (package iproute2")
                .hasMessageEndingWith("run mvm bootstrap as root to install them, or run: sudo apt-get install -y e2fsprogs iproute2");
        assertThat(installs).isEmpty();
    }

    @Test
    void withoutAptItNamesTheDebianPackagesToFindEquivalentsFor() {
        ScriptedHost host = new ScriptedHost().withAllBut("zstd");
        host.apt = false;
        assertThatThrownBy(() -> bootstrap(host, true).ensureTools(true, progress::add))
                .hasMessageContaining("this host has no apt").hasMessageContaining("zstd");
        assertThat(installs).isEmpty();
    }

    @Test
    void noInstallOnlyReports() {
        assertThatThrownBy(() -> bootstrap(new ScriptedHost().withAllBut("ping"), true).ensureTools(false, progress::add))
                .hasMessageContaining("install them with: apt-get install -y iputils-ping");
        assertThat(installs).isEmpty();
    }

    @Test
    void anInstallThatDoesNotProvideTheToolIsAnError() {
        assertThatThrownBy(() -> bootstrap(new ScriptedHost().withAllBut("qemu-system-x86_64"), false).ensureTools(true, progress::add))
                .hasMessageStartingWith("still missing after apt-get install: qemu-system-x86_64");
    }
}
