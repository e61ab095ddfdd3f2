package io.mvm.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.mvm.coordinator.testing.ApiClient;
import io.mvm.coordinator.testing.TestDatabase;
import io.mvm.core.network.Ipv4Cidr;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** First start, restart and misconfiguration of a coordinator (SQLite). */
class CoordinatorStartIT {
    private TestDatabase db;
    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);

    @BeforeEach
    void setUp() {
        db = TestDatabase.sqlite();
        logs.start();
        root.addAppender(logs);
    }

    @AfterEach
    void tearDown() {
        root.detachAppender(logs);
        db.close();
    }

    private CoordinatorConfig config() {
        return CoordinatorConfig.defaults(db.dataDir()).withDatabase(db.url()).withListen("127.0.0.1", 0);
    }

    @Test
    void firstStartWritesAPrivateAdminTokenThatIsNeverLoggedAndRestartKeepsIt() throws Exception {
        String token;
        try (Coordinator first = Coordinator.start(config())) {
            Path file = first.adminTokenFile();
            assertThat(first.createdTokenFile()).contains(file);
            assertThat(file).isEqualTo(db.dataDir().resolve("coordinator/admin.token"));
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
            token = Files.readString(file).strip();
            assertThat(token).startsWith("mvm_");
            assertThat(Base64.getUrlDecoder().decode(token.substring(4))).hasSizeGreaterThanOrEqualTo(16);
            ApiClient api = new ApiClient(first.port(), token);
            assertThat(api.post("/v1/tenants", Map.of("id", "acme")).status()).isEqualTo(201);
            api.withToken(token + "x").get("/v1/tenants");
        }
        try (Coordinator second = Coordinator.start(config())) {
            assertThat(second.createdTokenFile()).isEmpty();
            assertThat(Files.readString(second.adminTokenFile()).strip()).isEqualTo(token);
            assertThat(new ApiClient(second.port(), token).get("/v1/tenants/acme").status()).isEqualTo(200);
        }
        assertThat(logs.list).isNotEmpty().noneSatisfy(e -> assertThat(e.getFormattedMessage()).contains(token));
        assertThat(Files.list(db.dataDir().resolve("coordinator")))
                .noneSatisfy(p -> assertThat(p.getFileName().toString()).endsWith(".tmp"));
    }

    @Test
    void aDifferentClusterCidrOnAnExistingDatabaseIsRefused() {
        Coordinator.start(config()).stop();
        assertThatThrownBy(() -> Coordinator.start(config().withClusterCidr(Ipv4Cidr.parse("10.0.0.0/16"))))
                .isInstanceOf(MvmException.class)
                .hasMessageContaining("set up with cluster CIDR 10.240.0.0/12, not 10.0.0.0/16");
    }

    @Test
    void aBusyPortIsAClearError() throws Exception {
        // (Not a second coordinator: that one would be refused its SQLite file first.)
        try (var busy = new java.net.ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.0.1"))) {
            assertThatThrownBy(() -> Coordinator.start(config().withListen("127.0.0.1", busy.getLocalPort())))
                    .isInstanceOf(MvmException.class)
                    .hasMessageContaining("cannot listen on 127.0.0.1:" + busy.getLocalPort())
                    .extracting(e -> ((MvmException) e).category()).isEqualTo(ErrorCategory.UNAVAILABLE);
        }
    }

    @Test
    void badSettingsFailBeforeAnythingStarts() {
        assertThatThrownBy(() -> CoordinatorConfig.parseListen("127.0.0.1:99999")).hasMessageContaining("0-65535");
        assertThatThrownBy(() -> CoordinatorConfig.parseListen("7777")).hasMessageContaining("HOST:PORT");
        assertThat(CoordinatorConfig.parseListen("[::1]:80")).isEqualTo(new CoordinatorConfig.HostPort("::1", 80));
        assertThatThrownBy(() -> config().withClusterCidr(Ipv4Cidr.parse("10.0.0.0/25"))).hasMessageContaining("smaller");
    }
}
