/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * App manifests: which entry points an app declares, for which trigger
 * types, hosted by which executable. Read from trusted directories only.
 */
#pragma once

#include <glib.h>

#include "devbg-enums.h"

G_BEGIN_DECLS

typedef struct {
  char  *name;       /* EntryPoint */
  char  *executable; /* absolute path of the task host */
  guint  triggers;   /* bit (1 << DevbgTriggerType) per declared type */
} DevbgEntryPoint;

typedef struct {
  gint       ref_count;
  char      *origin;     /* the file it came from */
  char      *app_id;
  char      *executable; /* the app's own executable, may be NULL */
  char      *executable_real; /* its canonical path when it exists (for identity) */
  GPtrArray *entry_points; /* of DevbgEntryPoint */
} DevbgManifest;

DevbgManifest *devbg_manifest_parse (const char *data,
                                     gssize      length,
                                     const char *origin,
                                     GError    **error);
DevbgManifest *devbg_manifest_ref (DevbgManifest *manifest);
void           devbg_manifest_unref (DevbgManifest *manifest);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgManifest, devbg_manifest_unref)

const DevbgEntryPoint *devbg_manifest_find_entry_point (const DevbgManifest *manifest,
                                                        const char          *name);

/* A valid app ID: reverse-DNS, two or more elements of [A-Za-z0-9_-],
 * none starting with a digit, at most 255 bytes (Flatpak's rules). */
gboolean devbg_app_id_is_valid (const char *app_id);

/* Loads every *.xml manifest in @dirs (NULL-terminated, earlier directories
 * win on duplicate app IDs). Returns app ID -> DevbgManifest. A file that
 * fails to parse is skipped and its error (file and line) is appended to
 * @problems, as is a duplicate app ID. */
GHashTable *devbg_manifests_load (const char *const *dirs,
                                  GPtrArray          *problems);

G_END_DECLS
