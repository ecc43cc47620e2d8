/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * DevbgConsent: the person's answer to "may this app do this on this
 * device?". Use consent is asked once and stored per (user, app, device
 * model) until revoked; servicing consent is asked every time and never
 * stored. The request decision (devbg-decision.c) says when to ask; this
 * object knows how: the consent agent of the caller's session, or
 * HeadlessConsent where no agent runs.
 */
#pragma once

#include <gio/gio.h>

#include "devbg-config.h"
#include "devbg-store.h"

G_BEGIN_DECLS

#define DEVBG_TYPE_CONSENT (devbg_consent_get_type ())
G_DECLARE_FINAL_TYPE (DevbgConsent, devbg_consent, DEVBG, CONSENT, GObject)

/* What a prompt says; every string is borrowed for the call only. */
typedef struct {
  guint32          uid;
  const char      *app_id;
  const char      *task_id;          /* the registration requested, for the log; may be NULL */
  const char      *app_display_name; /* from the manifest; the app ID when it has none */
  const char      *sender;           /* the app's connection: its leaving withdraws the prompt */
  const char      *session_id;       /* the caller's logind session, NULL when in none */
  DevbgTriggerType trigger;
  const char      *device_id;
  const char      *device_name;
  const char      *model_id;         /* "" when the device has none */
  guint            expected_duration_s; /* servicing; 0: unknown */
} DevbgConsentQuestion;

DevbgConsent *devbg_consent_new (const DevbgConfig *config,
                                 DevbgStore        *store,
                                 GDBusConnection   *connection);

/* Use consent stored earlier for (@uid, @app_id, @model_id) and not revoked. */
gboolean devbg_consent_is_stored (DevbgConsent *consent,
                                  guint32       uid,
                                  const char   *app_id,
                                  const char   *model_id);

/* Asks; a use consent given is stored before the answer is returned. */
void     devbg_consent_ask_async  (DevbgConsent               *consent,
                                   const DevbgConsentQuestion *question,
                                   GCancellable               *cancellable,
                                   GAsyncReadyCallback         callback,
                                   gpointer                    user_data);
/* TRUE when allowed. FALSE with no @error when denied (by the person, no
 * answer in time, the agent or the app leaving, HeadlessConsent=deny where
 * no agent runs), with @why a sentence for the logs. FALSE with @error when
 * devbgd could not ask or store. */
gboolean devbg_consent_ask_finish (DevbgConsent  *consent,
                                   GAsyncResult  *result,
                                   char         **why,
                                   GError       **error);

/* Bounds on what callers can make grow. */
#define DEVBG_CONSENT_MAX_AGENTS_PER_USER 8
#define DEVBG_CONSENT_MAX_PROMPTS_PER_SESSION 16

/* As devbg_consent_ask_async(), for a caller whose logind session is not
 * known yet: it is found first from @question->sender's process
 * (question->session_id is ignored). Finish with devbg_consent_ask_finish(). */
void     devbg_consent_ask_for_sender_async (DevbgConsent               *consent,
                                             const DevbgConsentQuestion *question,
                                             GCancellable               *cancellable,
                                             GAsyncReadyCallback         callback,
                                             gpointer                    user_data);

/* A consent agent at @path on connection @sender, of @uid, serves the
 * logind session of process @pid (none where logind is absent or @pid is
 * in no session) from now until it unregisters or leaves the bus.
 * Errors: InvalidArgument (already registered), LimitExceeded. */
void     devbg_consent_register_agent_async  (DevbgConsent        *consent,
                                              const char          *sender,
                                              const char          *path,
                                              guint32              uid,
                                              guint32              pid,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
gboolean devbg_consent_register_agent_finish (DevbgConsent  *consent,
                                              GAsyncResult  *result,
                                              GError       **error);
/* devbgd stops: every open or queued prompt is denied and withdrawn. */
void     devbg_consent_shutdown (DevbgConsent *consent);

/* Prompts it shows stay open until answered, or until it leaves. */
gboolean devbg_consent_unregister_agent      (DevbgConsent  *consent,
                                              const char    *sender,
                                              const char    *path,
                                              GError       **error);

G_END_DECLS
