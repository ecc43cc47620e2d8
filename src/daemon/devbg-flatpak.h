/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Flatpak apps: who is one (a .flatpak-info checked against the
 * installation that deployed it), what it declares (the manifest it ships
 * in its own tree, /app/share/devbg/<app-id>.xml), and where its tasks run
 * (a new instance of its sandbox, `flatpak run --command=`).
 *
 * Installations trusted: the system one (root-owned deployments, for every
 * user's calls) and each user's own (deployments owned by that user, for
 * that user's calls only). Installation roots are configurable, as Flatpak's
 * FLATPAK_SYSTEM_DIR and FLATPAK_USER_DIR are.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

#define DEVBG_FLATPAK_DEFAULT_SYSTEM_DIR "/var/lib/flatpak"
#define DEVBG_FLATPAK_DEFAULT_USER_DIR "%h/.local/share/flatpak"
#define DEVBG_FLATPAK_BINARY "/usr/bin/flatpak"

/* One deployed commit of an app in one installation. */
typedef struct _DevbgFlatpakOrigin {
  char     *installation; /* the installation root, as configured */
  gboolean  user;         /* a per-user installation (else the system one) */
  uid_t     owner;        /* the user a per-user installation serves; 0 for the system one */
  char     *app_id;
  char     *arch;
  char     *branch;
  char     *commit;
  char     *task_home_root; /* where a user with no usable home gets one for flatpak run */
} DevbgFlatpakOrigin;

void                devbg_flatpak_origin_free (DevbgFlatpakOrigin *origin);
DevbgFlatpakOrigin *devbg_flatpak_origin_copy (const DevbgFlatpakOrigin *origin);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgFlatpakOrigin, devbg_flatpak_origin_free)

/* What a .flatpak-info says (as Flatpak writes it: [Application] name,
 * [Instance] app-path, app-commit, arch, branch). */
typedef struct {
  char *name;
  char *app_path;
  char *commit;
  char *arch;
  char *branch;
} DevbgFlatpakInfo;

void devbg_flatpak_info_clear (DevbgFlatpakInfo *info);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DevbgFlatpakInfo, devbg_flatpak_info_clear)

/* Pure: parses @data; FALSE with *@why when a field is missing or not of
 * the form Flatpak gives it. */
gboolean devbg_flatpak_info_parse (const char       *data,
                                   gsize             length,
                                   DevbgFlatpakInfo *info,
                                   char            **why);

/* Pure: a commit checksum (64 lowercase hex digits); an arch or branch
 * ([A-Za-z0-9_.-], not starting with '.'). */
gboolean devbg_flatpak_commit_is_valid (const char *commit);
gboolean devbg_flatpak_ref_part_is_valid (const char *part);

/* Pure: @template with %h (home), %u (uid) and %% expanded; NULL when it
 * holds another % sequence or %h is needed and @home is NULL. */
char *devbg_flatpak_expand_user_dir (const char *template_,
                                     const char *home,
                                     uid_t       uid);

typedef struct _DevbgFlatpak DevbgFlatpak;

/* An app's deployment changed in an installation: @after is NULL when the
 * app was uninstalled, else its new deployment (another commit). */
typedef void (*DevbgFlatpakChanged) (const DevbgFlatpakOrigin *before,
                                     const DevbgFlatpakOrigin *after,
                                     gpointer                  user_data);

/* @system_dir: NULL for none; @user_dir_template: NULL for none, else as
 * devbg_flatpak_expand_user_dir(); @task_home_root: see DevbgFlatpakOrigin.
 * Loads the system installation now and watches it. */
DevbgFlatpak *devbg_flatpak_new (const char          *system_dir,
                                 const char          *user_dir_template,
                                 const char          *task_home_root,
                                 DevbgFlatpakChanged  changed,
                                 gpointer             user_data);
void          devbg_flatpak_free (DevbgFlatpak *flatpak);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgFlatpak, devbg_flatpak_free)

/* Is the sandbox that wrote @info_data a deployment of an installation
 * trusted for @uid's calls: the app's path is that of the commit it names,
 * deployed by the installation's owner? Returns its origin, or NULL and
 * *@why. A user's installation is loaded and watched from its first use. */
DevbgFlatpakOrigin *devbg_flatpak_identify (DevbgFlatpak *flatpak,
                                            const char   *info_data,
                                            gsize         length,
                                            uid_t         uid,
                                            char        **why);

/* The manifest (a DevbgManifest, not referenced) that the app of @origin
 * ships in its current deployment, or NULL. */
gpointer devbg_flatpak_lookup (DevbgFlatpak             *flatpak,
                               const DevbgFlatpakOrigin *origin);

typedef enum {
  DEVBG_FLATPAK_DEPLOYED,    /* still the app's current deployment (or unknown) */
  DEVBG_FLATPAK_UNINSTALLED, /* no deployment of the app, or this one's files are gone */
  DEVBG_FLATPAK_UPDATED,     /* another commit is the app's current deployment */
} DevbgFlatpakState;

/* Is @origin still its app's deployment, on disk now (not as the last
 * reload saw it)? Flatpak removes an app's files while its sandboxes run,
 * and a sandboxed task may end of that before the debounced reload: when
 * the answer is not DEPLOYED, the installation is reloaded at once (the
 * DevbgFlatpakChanged callback runs before this returns). */
DevbgFlatpakState devbg_flatpak_check_now (DevbgFlatpak             *flatpak,
                                           const DevbgFlatpakOrigin *origin);

/* Pure: the argv (NULL-terminated, newly allocated) and the environment
 * additions that run @executable with @entry_point inside a new instance
 * of @origin's sandbox, its commit pinned. */
char **devbg_flatpak_task_argv (const DevbgFlatpakOrigin *origin,
                                const char               *executable,
                                const char               *entry_point);
char **devbg_flatpak_task_environ (const DevbgFlatpakOrigin *origin,
                                   const char               *home);

G_END_DECLS
