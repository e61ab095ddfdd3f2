package io.mvm.runtime.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.runtime.guest.GuestChannel.ExecRequest;
import io.mvm.runtime.guest.GuestChannel.ExecResult;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.runtime.testing.HostCapabilities;
import io.mvm.runtime.testing.TestMicroVm;
import io.mvm.runtime.testing.TestMicroVm.Drive;
import java.io.IOException;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Boots one real QEMU microvm from the default guest image with a data, a secrets and a config
 * drive and a one-shot workload, and exercises the guest agent through {@link VirtioSerialGuestChannel}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class GuestAgentIT {
    private static final Duration BOOT = Duration.ofSeconds(120);
    private static final Duration CALL = Duration.ofSeconds(60);

    private final String hostname = "it-" + UUID.randomUUID().toString().substring(0, 8);
    private Path work;
    private GuestImage image;
    private TestMicroVm vm;
    private VirtioSerialGuestChannel channel;
    private Path secretsImage;

    @BeforeAll
    void boot() throws Exception {
        HostCapabilities.requireVmHost();
        work = TestMicroVm.newWorkDir("agent");
        try {
            image = ImageBuilder.ensureDefaultImage(HostCapabilities.testDataDir(), ProgressListener.NONE);
            Path data = dirWith("data", Map.of("hello.txt", "from the host\n"));
            Path secrets = dirWith("secrets", Map.of("token", "s3cret-v1"));
            String cmd = "echo \"$GREETING|$SECOND\" > /tmp/workload.out; exit 7";
            String env = "GREETING=hello world\nSECOND=two'quoted\"\n";
            // The workload is on the config drive (io.mvm.runtime.drive.VmDrives.WORKLOAD_CMD/ENV), root-only.
            Path config = dirWith("config", Map.of("app.toml", "mode = \"test\"\n", ".mvm-workload.cmd", cmd,
                    ".mvm-workload.env", env));
            secretsImage = TestMicroVm.ext4(work.resolve("secrets.ext4"), "mvm-secrets", secrets, 4);
            List<Drive> drives = List.of(
                    new Drive(TestMicroVm.ext4(work.resolve("config.ext4"), "mvm-config", config, 4), false),
                    new Drive(TestMicroVm.ext4(work.resolve("data.ext4"), "mvm-data", data, 16), false),
                    new Drive(secretsImage, false));
            vm = TestMicroVm.boot(image, work, "mvm.hostname=" + hostname, drives);
            vm.awaitReady(BOOT);
            channel = VirtioSerialGuestChannel.connect(vm.agentSocket());
        } catch (Throwable t) {
            cleanUp();
            throw t;
        }
    }

    @AfterAll
    void cleanUp() {
        if (channel != null) {
            channel.close();
        }
        if (vm != null) {
            vm.close();
        }
        TestMicroVm.deleteTree(work);
    }

    @Test
    @Order(1)
    void healthReportsProtocolHostnameKernelAndUptime() {
        GuestChannel.Health health = channel.health(CALL);
        assertThat(health.protocolVersion()).isEqualTo(GuestChannel.PROTOCOL_VERSION);
        assertThat(health.hostname()).isEqualTo(hostname);
        assertThat(health.kernel()).isEqualTo(image.kernelVersion());
        assertThat(health.uptimeSeconds()).isPositive();
        assertThat(vm.serial().lines().filter("mvm-guest-ready"::equals).count()).isEqualTo(1);
    }

    @Test
    @Order(2)
    void execReturnsStdoutStderrAndExitCode() {
        ExecResult result = channel.exec(ExecRequest.of(CALL, "sh", "-c", "echo out; echo err >&2; exit 3"));
        assertThat(result.exitCode()).isEqualTo(3);
        assertThat(result.stdoutText()).isEqualTo("out\n");
        assertThat(result.stderrText()).isEqualTo("err\n");
        assertThat(result.timedOut()).isFalse();
    }

    @Test
    @Order(3)
    void execPassesArgvVerbatim() {
        List<String> args = List.of("two words", "it's \"quoted\"", "$HOME", "*", "", "back\\slash", "trailing newline\n", "-n");
        ExecRequest request = new ExecRequest(
                java.util.stream.Stream.concat(java.util.stream.Stream.of("printf", "<%s>"), args.stream()).toList(),
                Map.of(), null, CALL);
        ExecResult result = channel.exec(request);
        StringBuilder expected = new StringBuilder();
        args.forEach(a -> expected.append('<').append(a).append('>'));
        assertThat(result.exitCode()).isZero();
        assertThat(result.stdoutText()).isEqualTo(expected.toString());
    }

    @Test
    @Order(4)
    void execPassesStdinAndEnvironment() {
        byte[] stdin = "line one\nline two with ü\n".getBytes(StandardCharsets.UTF_8);
        Map<String, String> env = new LinkedHashMap<>();
        env.put("FOO", "bar baz");
        env.put("MULTI", "a\nb");
        ExecResult result = channel.exec(new ExecRequest(List.of("sh", "-c", "cat; printf '%s|%s' \"$FOO\" \"$MULTI\""),
                env, stdin, CALL));
        assertThat(result.exitCode()).isZero();
        assertThat(result.stdoutText()).isEqualTo("line one\nline two with ü\nbar baz|a\nb");
    }

    @Test
    @Order(4)
    void binaryStdinSurvivesTheChannelAndOutputIsCutAtOneMebibyte() {
        byte[] stdin = new byte[64 * 1024];
        new java.util.Random(42).nextBytes(stdin);
        long started = System.nanoTime();
        ExecResult echoed = channel.exec(new ExecRequest(List.of("cat"), Map.of(), stdin, CALL));
        System.out.printf("64 KiB stdin round trip: %d ms%n", Duration.ofNanos(System.nanoTime() - started).toMillis());
        assertThat(echoed.exitCode()).isZero();
        assertThat(echoed.stdout()).isEqualTo(stdin);

        ExecResult exact = channel.exec(ExecRequest.of(CALL, "head", "-c", "1048576", "/dev/zero"));
        assertThat(exact.stdout()).hasSize(1 << 20);
        assertThat(exact.truncated()).as("exactly the cap is not cut").isFalse();

        // A guest flooding both streams: the answer stays small enough for the host's line cap.
        started = System.nanoTime();
        ExecResult big = channel.exec(ExecRequest.of(CALL, "sh", "-c",
                "head -c 4000000 /dev/zero; head -c 3000000 /dev/zero >&2"));
        System.out.printf("4 MB stdout + 3 MB stderr, cut: %d ms%n", Duration.ofNanos(System.nanoTime() - started).toMillis());
        assertThat(big.exitCode()).isZero();
        assertThat(big.stdout()).hasSize(1 << 20).containsOnly((byte) 0);
        assertThat(big.stderr()).hasSize(1 << 20);
        assertThat(big.truncated()).isTrue();
        assertThat(channel.health(CALL).hostname()).as("the channel carries on").isEqualTo(hostname);
    }

    @Test
    @Order(4)
    void execOutputStreamsWhileTheCommandRuns() throws Exception {
        var chunks = new java.util.concurrent.CopyOnWriteArrayList<String>();
        var release = new java.util.concurrent.CompletableFuture<ExecResult>();
        // The command goes on only once a second exec created the file, and that one is sent only
        // after the first chunk arrived: without streaming the call would wait for its timeout.
        ExecResult result = channel.exec(ExecRequest.of(Duration.ofSeconds(60), "sh", "-c",
                "echo first; echo err-first >&2; while [ ! -e /tmp/stream-go ]; do sleep 0.1; done; echo second"),
                (stream, bytes) -> {
                    chunks.add(stream.wireName() + ":" + new String(bytes, StandardCharsets.UTF_8));
                    if (!release.isDone()) {
                        release.complete(null);
                        Thread.ofVirtual().start(() -> channel.exec(ExecRequest.of(CALL, "touch", "/tmp/stream-go")));
                    }
                });
        assertThat(result.exitCode()).isZero();
        assertThat(result.timedOut()).isFalse();
        assertThat(String.join("", chunks.stream().filter(c -> c.startsWith("stdout:")).map(c -> c.substring(7)).toList()))
                .isEqualTo("first\nsecond\n");
        assertThat(chunks).contains("stderr:err-first\n");
        assertThat(chunks.getFirst()).isIn("stdout:first\n", "stderr:err-first\n");
    }

    @Test
    @Order(5)
    void execUnknownProgramFailsLikeAShell() {
        ExecResult result = channel.exec(ExecRequest.of(CALL, "/no/such/program"));
        assertThat(result.exitCode()).isNotZero();
        assertThat(result.stderrText()).isNotEmpty();
    }

    @Test
    @Order(6)
    void execTimeoutKillsTheCommandAndItsChildren() {
        long started = System.nanoTime();
        ExecResult result = channel.exec(ExecRequest.of(Duration.ofSeconds(2), "sh", "-c",
                "sleep 300 & echo started; sleep 300"));
        assertThat(result.timedOut()).isTrue();
        assertThat(result.exitCode()).isNotZero();
        assertThat(result.stdoutText()).isEqualTo("started\n");
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(60));
        ExecResult ps = channel.exec(ExecRequest.of(CALL, "sh", "-c", "ps -o args | grep -c '^sleep 300' || true"));
        assertThat(ps.stdoutText().strip()).isEqualTo("0");
    }

    @Test
    @Order(6)
    void healthIsAnsweredWhileAnExecRunsAndNothingIsLeftAsAZombie() throws Exception {
        java.util.concurrent.CompletableFuture<ExecResult> slow = java.util.concurrent.CompletableFuture.supplyAsync(
                () -> channel.exec(ExecRequest.of(CALL, "sh", "-c", "touch /tmp/slow-started; sleep 8; echo slow")),
                java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
        long end = System.nanoTime() + CALL.toNanos();
        while (channel.exec(ExecRequest.of(CALL, "test", "-e", "/tmp/slow-started")).exitCode() != 0 && System.nanoTime() < end) {
            Thread.sleep(100);
        }
        assertThat(channel.health(CALL).hostname()).isEqualTo(hostname);
        assertThat(slow).as("the slow exec is still running while health answered").isNotDone();
        assertThat(slow.get(2, java.util.concurrent.TimeUnit.MINUTES).stdoutText()).isEqualTo("slow\n");
        assertThat(run("sleep 1; ps -o stat,args | grep -c '^Z' || true").strip()).isEqualTo("0");
    }

    @Test
    @Order(6)
    void anAnswerLockLeftByADeadHandlerIsBroken() {
        // The command leaves the lock its own answer needs, dated long ago, as a dead handler would.
        ExecResult result = channel.exec(ExecRequest.of(CALL, "sh", "-c",
                "mkdir /run/mvm/emit.lock && touch -d '2000-01-01 00:00' /run/mvm/emit.lock && echo left"));
        assertThat(result.stdoutText()).isEqualTo("left\n");
        assertThat(channel.health(CALL).hostname()).isEqualTo(hostname);
    }

    @Test
    @Order(7)
    void drivesAreMountedByLabelWithTheRightModes() {
        String mounts = channel.exec(ExecRequest.of(CALL, "cat", "/proc/mounts")).stdoutText();
        assertThat(mountOptions(mounts, "/")).startsWith("ro");
        assertThat(mountOptions(mounts, "/data")).startsWith("rw");
        assertThat(mountOptions(mounts, "/run/secrets")).startsWith("ro");
        assertThat(mountOptions(mounts, "/etc/mvm-config")).startsWith("ro");
        for (String tmpfs : List.of("/tmp", "/run", "/var")) {
            assertThat(mounts).contains("tmpfs " + tmpfs + " tmpfs");
        }
        assertThat(run("cat /data/hello.txt /run/secrets/token /etc/mvm-config/app.toml"))
                .isEqualTo("from the host\ns3cret-v1mode = \"test\"\n");
        assertThat(channel.exec(ExecRequest.of(CALL, "sh", "-c", "echo x > /run/secrets/new")).exitCode()).isNotZero();
        assertThat(channel.exec(ExecRequest.of(CALL, "sh", "-c", "echo x > /etc/mvm-config/new")).exitCode()).isNotZero();
        assertThat(channel.exec(ExecRequest.of(CALL, "sh", "-c", "echo x > /usr/new")).exitCode()).isNotZero();
        assertThat(run("echo written > /data/new && cat /data/new && echo t > /tmp/t && cat /tmp/t")).isEqualTo("written\nt\n");
    }

    @Test
    @Order(8)
    void workloadRunsWithItsEnvironmentAndReportsItsExitCode() throws InterruptedException {
        GuestChannel.WorkloadStatus status = channel.workload(CALL);
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!"exited".equals(status.state()) && System.nanoTime() < end) {
            Thread.sleep(200);
            status = channel.workload(CALL);
        }
        assertThat(status.state()).isEqualTo("exited");
        assertThat(status.exitCode()).isEqualTo(7);
        assertThat(run("cat /tmp/workload.out")).isEqualTo("hello world|two'quoted\"\n");
    }

    @Test
    @Order(9)
    void reloadSecretsShowsTheRebuiltSecretsDrive() throws Exception {
        assertThat(run("cat /run/secrets/token")).isEqualTo("s3cret-v1");
        Path rotated = dirWith("secrets-rotated", Map.of("token", "s3cret-v2-rotated"));
        Path fresh = TestMicroVm.ext4(work.resolve("secrets-new.ext4"), "mvm-secrets", rotated, 4);
        // Overwrite in place: QEMU keeps the original file open, as it would keep a drive it was
        // started with; what changes is the content the guest must re-read.
        try (FileChannel target = FileChannel.open(secretsImage, StandardOpenOption.WRITE);
             FileChannel source = FileChannel.open(fresh, StandardOpenOption.READ)) {
            source.transferTo(0, source.size(), target);
            target.force(true);
        }
        channel.reloadSecrets(CALL);
        assertThat(run("cat /run/secrets/token")).isEqualTo("s3cret-v2-rotated");
        assertThat(mountOptions(channel.exec(ExecRequest.of(CALL, "cat", "/proc/mounts")).stdoutText(), "/run/secrets"))
                .startsWith("ro");
    }

    @Test
    @Order(10)
    void agentSurvivesHostDisconnectTornRequestsAndReconnect() throws Exception {
        channel.close();
        // A host that connects, writes half a request and vanishes.
        try (SocketChannel raw = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            raw.connect(UnixDomainSocketAddress.of(vm.agentSocket()));
            raw.write(ByteBuffer.wrap("mvm 1 5 exec arg=".getBytes(StandardCharsets.US_ASCII)));
        }
        // A host that speaks garbage, then a request from a different protocol version.
        try (SocketChannel raw = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            raw.connect(UnixDomainSocketAddress.of(vm.agentSocket()));
            raw.write(ByteBuffer.wrap("\nhello there\nmvm 99 6 health .\n".getBytes(StandardCharsets.US_ASCII)));
            ByteBuffer answer = ByteBuffer.allocate(4096);
            long end = System.nanoTime() + CALL.toNanos();
            while (!new String(answer.array(), 0, answer.position(), StandardCharsets.US_ASCII).contains("\n")
                    && System.nanoTime() < end) {
                raw.read(answer);
            }
            AgentProtocol.AgentAnswer decoded = AgentProtocol.decodeAnswer(
                    new String(answer.array(), 0, answer.position(), StandardCharsets.US_ASCII).lines().findFirst().orElseThrow());
            assertThat(decoded.id()).isEqualTo(6);
            assertThat(decoded.ok()).isFalse();
            assertThat(decoded.text("message").orElseThrow()).contains("unsupported protocol version 99");
        }
        channel = VirtioSerialGuestChannel.connect(vm.agentSocket());
        assertThat(channel.health(CALL).hostname()).isEqualTo(hostname);
        assertThat(run("echo again")).isEqualTo("again\n");
    }

    @Test
    @Order(11)
    void lateAnswerToAnAbandonedRequestIsNotMistakenForTheNextOne() {
        // The host gives up on health long before a guest shell can answer; that answer arrives
        // later, in front of the answer to the next request, and must be dropped by its id.
        assertThat(channel.health(CALL).hostname()).isEqualTo(hostname);
        assertThatThrownBy(() -> channel.health(Duration.ofMillis(1))).isInstanceOf(GuestChannelException.class);
        assertThat(run("sleep 1; echo mine")).isEqualTo("mine\n");
        assertThat(channel.health(CALL).hostname()).isEqualTo(hostname);
    }

    @Test
    @Order(12)
    void aKilledAgentIsRestartedByInitWithoutASecondReadyMarker() throws Exception {
        run("setsid sh -c 'sleep 1; kill -9 $(pidof mvm-agent)' < /dev/null > /dev/null 2>&1 &");
        Thread.sleep(3000);
        long end = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        GuestChannel.Health health = null;
        while (health == null && System.nanoTime() < end) {
            try {
                // A request the dying agent swallowed is lost; short tries find the new one.
                health = channel.health(Duration.ofSeconds(5));
            } catch (GuestChannelException e) {
                // keep trying until the restarted agent answers
            }
        }
        assertThat(health).as(vm.serial()).isNotNull();
        assertThat(health.hostname()).isEqualTo(hostname);
        assertThat(vm.serial()).contains("guest agent exited");
        assertThat(vm.serial().lines().filter("mvm-guest-ready"::equals).count()).isEqualTo(1);
    }

    private String run(String script) {
        ExecResult result = channel.exec(ExecRequest.of(CALL, "sh", "-c", script));
        assertThat(result.exitCode()).as("exit code of %s (stderr %s)", script, result.stderrText()).isZero();
        return result.stdoutText();
    }

    private static String mountOptions(String procMounts, String mountPoint) {
        return procMounts.lines()
                .map(l -> l.split(" "))
                .filter(f -> f.length >= 4 && f[1].equals(mountPoint) && !f[2].equals("rootfs"))
                .reduce((a, b) -> b)
                .map(f -> f[3])
                .orElseThrow(() -> new AssertionError(mountPoint + " is not mounted:\n" + procMounts));
    }

    private Path dirWith(String name, Map<String, String> files) throws IOException {
        Path dir = Files.createDirectories(work.resolve(name));
        for (Map.Entry<String, String> file : files.entrySet()) {
            try (OutputStream out = Files.newOutputStream(dir.resolve(file.getKey()))) {
                out.write(file.getValue().getBytes(StandardCharsets.UTF_8));
            }
        }
        return dir;
    }
}
