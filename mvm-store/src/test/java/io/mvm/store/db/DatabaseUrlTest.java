package io.mvm.store.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class DatabaseUrlTest {

    @Test
    void postgresUriBecomesJdbcWithCredentialsApart() {
        DatabaseUrl url = DatabaseUrl.parse("postgresql://mvm:s%40cret@db.example:6543/fleet?sslmode=require");
        assertThat(url).isEqualTo(new DatabaseUrl.Postgres("jdbc:postgresql://db.example:6543/fleet?sslmode=require",
                "mvm", "s@cret"));
        assertThat(url.display()).doesNotContain("cret");
        assertThat(url.toString()).doesNotContain("cret");
        assertThat(DatabaseUrl.parse("postgres://u@h/d")).isEqualTo(new DatabaseUrl.Postgres("jdbc:postgresql://h:5432/d", "u", null));
        assertThat(DatabaseUrl.parse("jdbc:postgresql://h/d")).isEqualTo(new DatabaseUrl.Postgres("jdbc:postgresql://h/d", null, null));
    }

    @Test
    void anythingElseIsASqliteFile() {
        assertThat(DatabaseUrl.parse("/var/lib/mvm/c.db")).isEqualTo(new DatabaseUrl.Sqlite(Path.of("/var/lib/mvm/c.db")));
        assertThat(DatabaseUrl.parse("sqlite:/tmp/x.db")).isEqualTo(new DatabaseUrl.Sqlite(Path.of("/tmp/x.db")));
        assertThat(DatabaseUrl.parse("jdbc:sqlite:/tmp/y.db")).isEqualTo(new DatabaseUrl.Sqlite(Path.of("/tmp/y.db")));
        assertThat(((DatabaseUrl.Sqlite) DatabaseUrl.parse("rel.db")).file()).isAbsolute();
    }

    @Test
    void badLocationsAreClearErrorsWithoutPasswords() {
        assertThatThrownBy(() -> DatabaseUrl.parse(" ")).hasMessageContaining("empty");
        assertThatThrownBy(() -> DatabaseUrl.parse("mysql://u:pw@h/d"))
                .hasMessageContaining("unsupported").hasMessageNotContaining("pw@");
        assertThatThrownBy(() -> DatabaseUrl.parse("postgresql://u:pw@h")).hasMessageContaining("names no database")
                .hasMessageNotContaining(":pw");
    }

    @Test
    void noFormOfAPasswordEverReachesTheDisplayOrToString() {
        for (String text : java.util.List.of(
                "postgresql://mvm:hunter2-pw@db:5432/fleet",
                "jdbc:postgresql://db:5432/fleet?user=mvm&password=hunter2-pw&sslmode=require",
                "jdbc:postgresql://db/fleet?PASSWORD=hunter2-pw",
                "postgres://mvm:hunter2-pw@db/fleet?password=hunter2-pw")) {
            DatabaseUrl url = DatabaseUrl.parse(text);
            assertThat(url.display()).as(text).doesNotContain("hunter2");
            assertThat(url.toString()).as(text).doesNotContain("hunter2");
        }
        assertThat(DatabaseUrl.parse("jdbc:postgresql://db/fleet?user=mvm&password=x&ssl=true").display())
                .isEqualTo("jdbc:postgresql://db/fleet?user=mvm&password=***&ssl=true");
        DatabaseUrl.Postgres fromFile = ((DatabaseUrl.Postgres) DatabaseUrl.parse("postgresql://mvm@db/fleet"))
                .withPassword("hunter2-from-file");
        assertThat(fromFile.password()).isEqualTo("hunter2-from-file");
        assertThat(fromFile.toString()).doesNotContain("hunter2");
        assertThat(fromFile.display()).isEqualTo("jdbc:postgresql://db:5432/fleet (user mvm)");
    }
}
