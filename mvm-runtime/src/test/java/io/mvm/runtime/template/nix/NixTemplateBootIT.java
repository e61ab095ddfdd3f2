package io.mvm.runtime.template.nix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.core.template.TemplateId;
import io.mvm.core.template.TemplateSource;
import io.mvm.core.template.TemplateVariant;
import io.mvm.model.Role;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.template.BaseImage;
import io.mvm.runtime.template.BuildOutcome;
import io.mvm.runtime.template.GuestAgentInjection;
import io.mvm.runtime.template.TemplateBuildException;
import io.mvm.runtime.template.TemplateStore;
import io.mvm.runtime.testing.HostCapabilities;
import io.mvm.runtime.vm.TemplateVmFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The real {@code nix build} (Debian's nix-bin, no network) of a self-contained local flake: with an
 * mvm-profiles.toml the role-aware attribute is built, without one the legacy attribute; the output
 * and its closure become a rootfs that boots, and the program the derivation wrote runs in the guest.
 * A second build of the unchanged flake is a cache hit; a change to the flake is a new revision.
 */
class NixTemplateBootIT {
    private static final Duration CALL = Duration.ofSeconds(30);
    static TemplateVmFixture runtime;
    static TemplateStore store;
    static NixTemplateBuilder builder;
    static Path flake;
    static final TemplateVariant WORKER = new TemplateVariant("nixy-worker", Role.WORKER, "minimal", 1, 256, 0);
    static String vm;

    /** A derivation without nixpkgs: /bin/sh on the host writes the output (sandbox off, PATH set). */
    static String flakeNix(String attribute, String message) {
        return """
                {
                  outputs = { self }: {
                    packages.x86_64-linux.%s = derivation {
                      name = "%s";
                      system = "x86_64-linux";
                      builder = "/bin/sh";
                      PATH = "/usr/bin:/bin";
                      args = [ "-c" "mkdir -p $out/usr/bin $out/etc && printf '#!/.mvm/bin/sh\\\\necho %s\\\\n' > $out/usr/bin/nix-hello && chmod 755 $out/usr/bin/nix-hello && echo nix > $out/etc/built-by" ];
                    };
                  };
                }
                """.formatted(attribute, attribute, message);
    }

    @BeforeAll
    static void setUp() throws Exception {
        HostCapabilities.requireVmHost();
        HostCapabilities.require(Files.isExecutable(Path.of("/usr/bin/nix")), "nix (apt-get install nix-bin)");
        runtime = new TemplateVmFixture();
        store = new TemplateStore(runtime.dataDir(), InstantSource.system());
        builder = new NixTemplateBuilder(store, BaseImage.ofDefaultImage(HostCapabilities.testDataDir()),
                GuestAgentInjection.withHostBusybox(), NixTemplateBuilder.HOST_OPTIONS, Duration.ofMinutes(10));
        flake = Files.createDirectories(runtime.dataDir().resolve("flake"));
        Files.writeString(flake.resolve("flake.nix"), flakeNix("tenant-worker-minimal", "built by nix for the worker role"));
        Files.writeString(flake.resolve("mvm-profiles.toml"), """
                [meta]
                version = 1
                [profiles.minimal]
                module = "guests/profiles/minimal.nix"
                [roles.worker]
                module = "roles/worker.nix"
                requires_config_drive = false
                requires_secrets_drive = true
                """);
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (runtime != null) {
            runtime.close();
        }
    }

    @Test
    void aFlakeWithAManifestBuildsItsRoleAttributeBootsAndIsCached() throws Exception {
        TemplateSource.Nix source = new TemplateSource.Nix("./flake");
        BuildOutcome built = builder.build(new TemplateId("nixy-worker"), source, runtime.dataDir(), WORKER, false, System.err::println);
        assertThat(built).isInstanceOf(BuildOutcome.Built.class);
        assertThat(built.revision().source().reference()).endsWith("#packages.x86_64-linux.tenant-worker-minimal");
        assertThat(built.revision().source().lockHash()).startsWith("sha256-");

        vm = "nix-" + UUID.randomUUID().toString().substring(0, 8);
        runtime.vms().run(VmSpec.builder(vm, store.currentImage(new TemplateId("nixy-worker"))).vcpus(1).memoryMib(256).build());
        try (GuestChannel guest = runtime.vms().guest(vm)) {
            assertThat(guest.exec(GuestChannel.ExecRequest.of(CALL, "nix-hello")).stdoutText()).isEqualTo("built by nix for the worker role\n");
            assertThat(guest.exec(GuestChannel.ExecRequest.of(CALL, "cat", "/etc/built-by")).stdoutText()).isEqualTo("nix\n");
            assertThat(guest.exec(GuestChannel.ExecRequest.of(CALL, "sh", "-c", "ls /nix/store | grep -c tenant-worker-minimal"))
                    .stdoutText().strip()).isEqualTo("1");
        }
        runtime.vms().destroy(vm);

        BuildOutcome again = builder.build(new TemplateId("nixy-worker"), source, runtime.dataDir(), WORKER, false, s -> { });
        assertThat(again).isInstanceOf(BuildOutcome.Reused.class);

        Files.writeString(flake.resolve("flake.nix"), flakeNix("tenant-worker-minimal", "changed"));
        BuildOutcome changed = builder.build(new TemplateId("nixy-worker"), source, runtime.dataDir(), WORKER, false, s -> { });
        assertThat(changed).isInstanceOf(BuildOutcome.Built.class);
        assertThat(changed.revision().revisionHash()).isNotEqualTo(built.revision().revisionHash());
    }

    @Test
    void withoutAManifestTheLegacyAttributeIsBuiltAndABrokenFlakeFailsClearly() throws Exception {
        Path legacy = Files.createDirectories(runtime.dataDir().resolve("legacy"));
        Files.writeString(legacy.resolve("flake.nix"), flakeNix("tenant-minimal", "legacy"));
        BuildOutcome built = builder.build(new TemplateId("legacy-worker"), new TemplateSource.Nix("./legacy"), runtime.dataDir(),
                new TemplateVariant("legacy-worker", Role.WORKER, "minimal", 1, 256, 0), false, s -> { });
        assertThat(built.revision().source().reference()).endsWith("#tenant-minimal");

        Files.writeString(legacy.resolve("flake.nix"), "{ outputs = { self }: { packages.x86_64-linux.tenant-minimal = derivation { name = \"x\"; system = \"x86_64-linux\"; builder = \"/bin/sh\"; args = [ \"-c\" \"echo the derivation failed on purpose >&2; exit 3\" ]; }; }; }");
        assertThatThrownBy(() -> builder.build(new TemplateId("legacy-worker"), new TemplateSource.Nix("./legacy"), runtime.dataDir(),
                new TemplateVariant("legacy-worker", Role.WORKER, "minimal", 1, 256, 0), false, s -> { }))
                .isInstanceOf(io.mvm.model.MvmException.class).hasMessageContaining("nix");
        assertThat(store.current(new TemplateId("legacy-worker"))).contains(built.revision());
        assertThatThrownBy(() -> builder.build(new TemplateId("legacy-worker"), new TemplateSource.Nix("./flake"), runtime.dataDir(),
                new TemplateVariant("legacy-worker", Role.GATEWAY, "minimal", 1, 256, 0), false, s -> { }))
                .isInstanceOf(TemplateBuildException.class).hasMessageContaining("[roles.gateway]");
    }
}
