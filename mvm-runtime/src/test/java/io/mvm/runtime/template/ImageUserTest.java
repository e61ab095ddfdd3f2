package io.mvm.runtime.template;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.core.template.DefaultWorkload;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageUserTest {
    @TempDir
    Path root;
    final List<String> notes = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        Files.createDirectories(root.resolve("etc"));
        Files.writeString(root.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n");
        Files.writeString(root.resolve("etc/group"), "root:x:0:\napp:x:1000:\nstaff:x:50:\n");
    }

    @Test
    void namesAndIdsResolveToTheImagesAccount() {
        assertThat(ImageUser.resolve(root, "app", notes::add)).isEqualTo("app");
        assertThat(ImageUser.resolve(root, "1000", notes::add)).isEqualTo("app");
        assertThat(ImageUser.resolve(root, "1000:1000", notes::add)).isEqualTo("app");
        assertThat(ImageUser.resolve(root, "app:app", notes::add)).isEqualTo("app");
        assertThat(notes).isEmpty();
        assertThat(ImageUser.resolve(root, "", notes::add)).isEmpty();
        assertThat(ImageUser.resolve(root, "root", notes::add)).isEmpty();
        assertThat(ImageUser.resolve(root, "0:0", notes::add)).isEmpty();
        assertThat(notes).isEmpty();
    }

    @Test
    void whatCannotBeHonouredIsSaid() {
        assertThat(ImageUser.resolve(root, "ghost", notes::add)).isEmpty();
        assertThat(ImageUser.resolve(root, "app:staff", notes::add)).isEqualTo("app");
        assertThat(notes).hasSize(2);
        assertThat(notes.get(0)).contains("has no account");
        assertThat(notes.get(1)).contains("primary group");
    }

    @Test
    void passwdIsReadInsideTheImageEvenThroughLinks() throws Exception {
        Files.delete(root.resolve("etc/passwd"));
        Files.createSymbolicLink(root.resolve("etc/passwd"), Path.of("/etc/passwd")); // itself, inside the image
        assertThat(ImageUser.resolve(root, "app", notes::add)).isEmpty();
        Files.delete(root.resolve("etc/passwd"));
        Files.createDirectories(root.resolve("usr/lib"));
        Files.writeString(root.resolve("usr/lib/passwd"), "app:x:1000:1000::/:/bin/sh\n");
        Files.createSymbolicLink(root.resolve("etc/passwd"), Path.of("/usr/lib/passwd"));
        assertThat(ImageUser.resolve(root, "1000", notes::add)).isEqualTo("app");
    }

    @Test
    void theWorkloadSwitchesUserWithMvmsOwnSuKeepingItsEnvironment() {
        DefaultWorkload workload = new DefaultWorkload(List.of("/app/serve"), List.of("it's"), List.of(), "/app", "1000");
        assertThat(TemplateWorkloads.commandLine(workload)).contains("cd '/app' && exec '/app/serve' 'it'\\''s'");
        assertThat(TemplateWorkloads.commandLine(workload.withRunAs("app"))).contains(
                "exec /.mvm/bin/su -p -s /.mvm/bin/sh 'app' -c 'cd '\\''/app'\\'' && exec '\\''/app/serve'\\'' '\\''it'\\''\\'\\'''\\''s'\\'''");
    }
}
