package io.mvm.runtime.template;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Resolves an image config's {@code User} ({@code name}, {@code uid}, {@code name:group},
 * {@code uid:gid}) against the image's own {@code /etc/passwd}, at build time, to the account the
 * workload runs as. The guest switches with busybox {@code su}, which takes an account name and its
 * primary group; so a user the image has no account for, or a group other than the account's
 * primary one, cannot be honoured: the build goes on and says so (the workload then runs as root,
 * or with the primary group).
 */
public final class ImageUser {
    private ImageUser() {}

    /** The account name to run as; empty for root (or when the image's user cannot be resolved). */
    public static String resolve(Path root, String user, Consumer<String> notes) {
        if (user == null || user.isBlank()) {
            return "";
        }
        String[] userAndGroup = user.split(":", 2);
        String who = userAndGroup[0];
        if (who.equals("root") || who.equals("0")) {
            return "";
        }
        Optional<String[]> account = passwdEntries(root).stream()
                .filter(fields -> fields[0].equals(who) || fields[2].equals(who))
                .findFirst();
        if (account.isEmpty()) {
            notes.accept("the image's User '" + user + "' has no account in its /etc/passwd; its workload will run as root");
            return "";
        }
        if (userAndGroup.length == 2 && !userAndGroup[1].equals(account.get()[3]) && !groupNamed(root, userAndGroup[1], account.get()[3])) {
            notes.accept("the image's User '" + user + "' names a group other than " + account.get()[0]
                    + "'s primary one; the workload runs with the primary group");
        }
        return account.get()[0];
    }

    private static boolean groupNamed(Path root, String name, String gid) {
        return readLines(root, "etc/group").stream().map(l -> l.split(":", -1))
                .anyMatch(f -> f.length >= 3 && f[0].equals(name) && f[2].equals(gid));
    }

    /** name:password:uid:gid:... lines with at least four fields. */
    private static List<String[]> passwdEntries(Path root) {
        return readLines(root, "etc/passwd").stream().map(l -> l.split(":", -1)).filter(f -> f.length >= 4).toList();
    }

    private static List<String> readLines(Path root, String relative) {
        try {
            Optional<Path> file = RootfsPath.entry(root, RootfsPath.components(relative), false);
            // the image's own file, never a link out of it: a link here is resolved like any other
            for (int hops = 0; file.isPresent() && Files.isSymbolicLink(file.get()); hops++) {
                if (hops > 40) {
                    return List.of(); // a cycle of links
                }
                String target = Files.readSymbolicLink(file.get()).toString();
                Path parent = file.get().getParent();
                String inside = target.startsWith("/") ? target.substring(1) : root.relativize(parent).resolve(target).normalize().toString();
                if (inside.startsWith("..")) {
                    return List.of();
                }
                file = RootfsPath.entry(root, RootfsPath.components(inside), false);
            }
            if (file.isEmpty() || !Files.isRegularFile(file.get(), LinkOption.NOFOLLOW_LINKS) || Files.size(file.get()) > (1 << 20)) {
                return List.of();
            }
            return Files.readAllLines(file.get(), StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
    }
}
