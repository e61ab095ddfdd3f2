package io.mvm.cli.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.store.db.DatabaseUrl;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The database password reaches the coordinator from a file or the environment, never its command line. */
class DatabaseOptionTest {
    @TempDir Path dir;

    private CoordinatorCommand.Start parse(String... args) {
        CoordinatorCommand.Start start = new CoordinatorCommand.Start();
        new CommandLine(start).parseArgs(args);
        return start;
    }

    @Test
    void aPasswordFromAFileOrTheEnvironmentJoinsAUrlWithoutOne() throws Exception {
        Path secret = dir.resolve("db.pw");
        Files.writeString(secret, "hunter2-file\n");
        DatabaseUrl fromFile = parse("--db", "postgresql://mvm@db:5432/fleet", "--db-password-file", secret.toString())
                .database(dir, Map.of());
        assertThat(fromFile).isEqualTo(new DatabaseUrl.Postgres("jdbc:postgresql://db:5432/fleet", "mvm", "hunter2-file"));
        assertThat(fromFile.toString()).doesNotContain("hunter2");

        DatabaseUrl fromEnv = parse().database(dir, Map.of("MVM_DB", "postgresql://mvm@db/fleet", "MVM_DB_PASSWORD", "hunter2-env"));
        assertThat(fromEnv).isEqualTo(new DatabaseUrl.Postgres("jdbc:postgresql://db:5432/fleet", "mvm", "hunter2-env"));

        assertThat(parse().database(dir, Map.of())).isInstanceOf(DatabaseUrl.Sqlite.class);
        assertThatThrownBy(() -> parse().database(dir, Map.of("MVM_DB_PASSWORD", "x")))
                .hasMessageContaining("not PostgreSQL");
    }
}
