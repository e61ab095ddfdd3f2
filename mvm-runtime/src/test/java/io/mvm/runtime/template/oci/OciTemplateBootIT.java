package io.mvm.runtime.template.oci;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.core.template.DefaultWorkload;
import io.mvm.core.template.TemplateId;
import io.mvm.core.template.TemplateSource;
import io.mvm.core.template.TemplateVariant;
import io.mvm.model.InstanceState;
import io.mvm.model.Role;
import io.mvm.runtime.backend.DriveSpec;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.image.StaticBusybox;
import io.mvm.runtime.template.BaseImage;
import io.mvm.runtime.template.BuildOutcome;
import io.mvm.runtime.template.GuestAgentInjection;
import io.mvm.runtime.template.TemplateStore;
import io.mvm.runtime.template.TemplateWorkloads;
import io.mvm.runtime.testing.HostCapabilities;
import io.mvm.runtime.vm.TemplateVmFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * A user's OCI image boots as an mvm VM: built into a template revision from a layout this test
 * writes (two layers: whiteouts, an opaque directory, a symlink, a hard link, set-user-ID and
 * non-root owners), booted by the real QEMU runtime with the image's own Entrypoint/Cmd/Env/
 * WorkingDir as its workload. Through mvm's guest agent the test sees the program that only this
 * image has running (it serves HTTP and left a marker), and the image's files as the layers say.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class OciTemplateBootIT {
    private static final Duration CALL = Duration.ofSeconds(30);
    static TemplateVmFixture runtime;
    static BuildOutcome built;
    static String vm;
    static final List<String> progress = new CopyOnWriteArrayList<>();

    static final String SERVE = """
            #!/bin/sh
            # The image's own program: no other image has it.
            {
              echo "uid: $(id -u)"
              echo "args: $*"
              echo "pwd: $(pwd)"
              echo "source: $GREETING_SOURCE"
              echo "path: $PATH"
              echo "shell: $(readlink /bin/sh)"
            } > /tmp/app-started
            exec busybox httpd -f -p 127.0.0.1:8080 -h /app/www
            """;

    @BeforeAll
    static void buildAndBoot() throws Exception {
        HostCapabilities.requireVmHost();
        Path busybox = StaticBusybox.locate().orElse(null);
        HostCapabilities.require(busybox != null, "a static busybox (busybox-static)");
        runtime = new TemplateVmFixture();
        Path layout = runtime.dataDir().resolve("image-layout");
        OciTestImages.Layer lower = new OciTestImages.Layer()
                .dir("bin", 0755, 0, 0)
                .file("bin/busybox", Files.readAllBytes(busybox), 0755)
                .symlink("bin/sh", "busybox")
                .dir("etc", 0755, 0, 0)
                .file("etc/image-marker", "built by OciTemplateBootIT\n")
                .file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/app:/bin/sh\n")
                .file("etc/group", "root:x:0:\napp:x:1000:\n")
                .dir("var", 0755, 0, 0).dir("var/lib", 0755, 0, 0).dir("var/lib/app", 0700, 1000, 1000)
                .file("var/lib/app/state", "state from the image\n", 0600, 1000, 1000)
                .dir("app", 0755, 0, 0)
                .file("app/serve", SERVE, 0755, 0, 0)
                .dir("app/www", 0755, 0, 0)
                .file("app/www/old.html", "old")
                .dir("app/conf", 0755, 0, 0)
                .file("app/conf/x", "x").file("app/conf/y", "y");
        OciTestImages.Layer upper = new OciTestImages.Layer()
                .file("app/www/index.html", "hello from the OCI image\n")
                .symlink("app/www/latest", "index.html")
                .whiteout("app/www", "old.html")
                .opaque("app/conf").file("app/conf/z", "z")
                .file("app/private.txt", "p", 0640, 1000, 1000)
                .file("app/suid-tool", "#!/bin/sh\n", 04755, 0, 0)
                .hardlink("app/suid-tool-link", "app/suid-tool");
        OciTestImages.writeLayout(layout, OciTestImages.config(List.of("/app/serve"), List.of("--greeting", "hello world"),
                List.of("PATH=/app:/bin", "GREETING_SOURCE=oci"), "/app", "app"), List.of(lower, upper), "latest");

        TemplateStore store = new TemplateStore(runtime.dataDir(), InstantSource.system());
        OciTemplateBuilder builder = new OciTemplateBuilder(store, BaseImage.ofDefaultImage(HostCapabilities.testDataDir()),
                GuestAgentInjection.withHostBusybox(), UnpackLimits.DEFAULT, runtime.dataDir().resolve("tmp"));
        TemplateSource.Oci source = new TemplateSource.Oci(new TemplateSource.Location.LayoutDirectory("image-layout"), Optional.of("latest"));
        TemplateVariant variant = new TemplateVariant("web-worker", Role.WORKER, "minimal", 1, 256, 0);
        built = builder.build(new TemplateId("web-worker"), source, runtime.dataDir(), variant, false, progress::add);

        GuestImage image = store.currentImage(new TemplateId("web-worker"));
        DefaultWorkload workload = built.revision().workload().orElseThrow();
        vm = "oci-" + java.util.UUID.randomUUID().toString().substring(0, 8);
        runtime.vms().run(VmSpec.builder(vm, image).vcpus(1).memoryMib(256)
                .drive(new DriveSpec.Data(16)).drive(new DriveSpec.Secrets(java.util.Map.of("API_KEY", "first")))
                .cmd(TemplateWorkloads.commandLine(workload).orElseThrow()).env(workload.environment()).build());
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (runtime != null) {
            runtime.close();
        }
    }

    private static GuestChannel.ExecResult exec(String... argv) {
        try (GuestChannel guest = runtime.vms().guest(vm)) {
            return guest.exec(GuestChannel.ExecRequest.of(CALL, argv));
        }
    }

    @Test
    @Order(1)
    void theRevisionRecordsTheImageItsArtifactsAndTheDefaultWorkload() throws Exception {
        assertThat(built).isInstanceOf(BuildOutcome.Built.class);
        assertThat(built.revision().source().kind()).isEqualTo("oci");
        assertThat(built.revision().source().lockHash()).startsWith("sha256:");
        assertThat(built.revision().artifacts()).extracting(a -> a.role()).containsExactlyInAnyOrder("rootfs", "kernel", "initramfs");
        BaseImage base = BaseImage.ofDefaultImage(HostCapabilities.testDataDir());
        assertThat(built.revision().artifact("kernel").orElseThrow().sha256()).contains(base.kernelSha256());
        assertThat(built.revision().artifact("initramfs").orElseThrow().sha256()).contains(base.initramfsSha256());
        assertThat(built.revision().workload().orElseThrow().argv()).containsExactly("/app/serve", "--greeting", "hello world");
        assertThat(built.revision().workload().orElseThrow().runAs()).isEqualTo("app");
        assertThat(runtime.vms().status(vm).state()).isEqualTo(InstanceState.RUNNING);
    }

    @Test
    @Order(2)
    void theImagesOwnProgramRunsAsTheWorkloadWithTheImagesEnvAndWorkingDir() throws Exception {
        String marker = "";
        for (int i = 0; i < 60 && marker.isEmpty(); i++) {
            GuestChannel.ExecResult result = exec("cat", "/tmp/app-started");
            marker = result.exitCode() == 0 ? result.stdoutText() : "";
            if (marker.isEmpty()) {
                Thread.sleep(500);
            }
        }
        // the image's User: its own account, from its own /etc/passwd
        assertThat(marker).contains("uid: 1000", "args: --greeting hello world", "pwd: /app", "source: oci", "path: /app:/bin", "shell: busybox");
        String page = "";
        for (int i = 0; i < 60 && !page.contains("hello"); i++) {
            page = exec("wget", "-q", "-O", "-", "http://127.0.0.1:8080/index.html").stdoutText();
            if (!page.contains("hello")) {
                Thread.sleep(500);
            }
        }
        assertThat(page).isEqualTo("hello from the OCI image\n");
        try (GuestChannel guest = runtime.vms().guest(vm)) {
            assertThat(guest.workload(CALL).state()).isEqualTo("running");
        }
    }

    @Test
    @Order(3)
    void theImagesFilesAreThereAsTheLayersSay() {
        assertThat(exec("cat", "/etc/image-marker").stdoutText()).isEqualTo("built by OciTemplateBootIT\n");
        assertThat(exec("test", "-e", "/app/www/old.html").exitCode()).as("whited out").isEqualTo(1);
        assertThat(exec("ls", "/app/conf").stdoutText().strip()).as("opaque directory").isEqualTo("z");
        assertThat(exec("readlink", "/app/www/latest").stdoutText().strip()).isEqualTo("index.html");
        assertThat(exec("stat", "-c", "%u:%g:%a", "/app/private.txt").stdoutText().strip()).isEqualTo("1000:1000:640");
        assertThat(exec("stat", "-c", "%a:%h", "/app/suid-tool").stdoutText().strip()).isEqualTo("4755:2");
        List<String> inodes = new ArrayList<>(exec("stat", "-c", "%i", "/app/suid-tool", "/app/suid-tool-link").stdoutText().lines().toList());
        assertThat(inodes).hasSize(2);
        assertThat(inodes.get(0)).isEqualTo(inodes.get(1));
        // the image's /var is there, with its owners, and writable (tmpfs)
        assertThat(exec("cat", "/var/lib/app/state").stdoutText()).isEqualTo("state from the image\n");
        assertThat(exec("stat", "-c", "%u:%g:%a", "/var/lib/app", "/var/lib/app/state").stdoutText()).isEqualTo("1000:1000:700\n1000:1000:600\n");
        assertThat(exec("sh", "-c", "echo more >> /var/lib/app/state && grep -c '' /var/lib/app/state").stdoutText().strip()).isEqualTo("2");
        assertThat(exec("grep", "-c", " /var tmpfs", "/proc/mounts").stdoutText().strip()).isEqualTo("1");
        assertThat(exec("test", "-e", "/run/mvm-image-var").exitCode()).isEqualTo(1);
        // the image's /bin/sh is its own; mvm's busybox lives apart
        assertThat(exec("readlink", "/bin/sh").stdoutText().strip()).isEqualTo("busybox");
        assertThat(exec("test", "-x", "/.mvm/bin/busybox").exitCode()).isZero();
    }

    @Test
    @Order(4)
    void mvmsGuestSideWorksAsInTheDefaultImage() throws Exception {
        try (GuestChannel guest = runtime.vms().guest(vm)) {
            assertThat(guest.health(CALL).hostname()).isEqualTo(vm);
        }
        assertThat(exec("cat", "/run/secrets/API_KEY").stdoutText()).isEqualTo("first");
        assertThat(exec("sh", "-c", "echo kept > /data/note && sync && cat /data/note").stdoutText()).isEqualTo("kept\n");
        assertThat(exec("grep", "-c", " / ext4 ro", "/proc/mounts").stdoutText().strip()).isEqualTo("1");
        assertThat(exec("sh", "-c", "echo $0").exitCode()).isZero();
        // drain: the workload (httpd) gets SIGTERM and exits
        try (GuestChannel guest = runtime.vms().guest(vm)) {
            GuestChannel.DrainResult drained = guest.drain(Duration.ofSeconds(10));
            assertThat(drained.completed()).isTrue();
            assertThat(guest.workload(CALL).state()).isEqualTo("exited");
        }
    }

    @Test
    @Order(5)
    void itSleepsAndWakesWithARotatedSecretAndItsDataKept() {
        assertThat(runtime.vms().sleep(vm, Duration.ofSeconds(10)).state()).isEqualTo(InstanceState.SLEEPING);
        assertThat(runtime.vms().wake(vm, Optional.of(java.util.Map.of("API_KEY", "rotated"))).state()).isEqualTo(InstanceState.RUNNING);
        assertThat(exec("cat", "/run/secrets/API_KEY").stdoutText()).isEqualTo("rotated");
        assertThat(exec("cat", "/data/note").stdoutText()).isEqualTo("kept\n");
        assertThat(exec("cat", "/etc/image-marker").stdoutText()).isEqualTo("built by OciTemplateBootIT\n");
    }
}
