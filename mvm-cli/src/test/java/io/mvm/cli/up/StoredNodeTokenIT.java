package io.mvm.cli.up;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.coordinator.Coordinator;
import io.mvm.coordinator.CoordinatorConfig;
import io.mvm.model.NodeId;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Against a real coordinator (SQLite): a stored node token is reused while it is accepted. */
class StoredNodeTokenIT {
    @TempDir Path dir;

    @Test
    void reusesAnAcceptedTokenAndReplacesARejectedOne() throws Exception {
        var coordinator = Coordinator.start(CoordinatorConfig.defaults(dir.resolve("home")).withListen("127.0.0.1", 0));
        try {
            var url = URI.create("http://127.0.0.1:" + coordinator.port());
            var node = NodeId.of("up-token-node");
            var file = StoredNodeToken.fileIn(dir.resolve("data"));
            var issued = new AtomicInteger();

            var first = StoredNodeToken.reuseOrIssue(file, url, node, () -> {
                issued.incrementAndGet();
                return coordinator.issueNodeToken(node);
            });
            assertThat(issued).hasValue(1);
            assertThat(Files.readString(file).strip()).isEqualTo(first);
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");

            var second = StoredNodeToken.reuseOrIssue(file, url, node, () -> {
                issued.incrementAndGet();
                return coordinator.issueNodeToken(node);
            });
            assertThat(second).isEqualTo(first);
            assertThat(issued).as("a second start mints nothing").hasValue(1);

            Files.writeString(file, "not-a-token-the-coordinator-knows");
            var third = StoredNodeToken.reuseOrIssue(file, url, node, () -> {
                issued.incrementAndGet();
                return coordinator.issueNodeToken(node);
            });
            assertThat(issued).hasValue(2);
            assertThat(third).isNotEqualTo(first);
            assertThat(Files.readString(file).strip()).isEqualTo(third);
        } finally {
            coordinator.stop();
        }
    }
}
