/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A consent agent: the program in the user's session that asks the person
 * before an app uses a device in the background (docs/consent-agent.md).
 */
#pragma once

#include <gio/gio.h>

#include "devbg-client.h"
#include "devbg-enums.h"

G_BEGIN_DECLS

/**
 * SECTION:devbg-consent-agent
 * @title: Consent agents
 * @short_description: asking the person before an app uses a device
 *
 * devbgd asks the person at the computer before an app uses a device in
 * the background, and draws nothing itself: a consent agent in the
 * user's session shows the prompts. A #DevbgConsentAgent is one: make it
 * with devbg_consent_agent_new(), connect to its
 * #DevbgConsentAgent::prompt and #DevbgConsentAgent::prompt-withdrawn
 * signals, and register it with devbg_consent_agent_register_async().
 * devbgd takes the agent's user from the bus and its session from logind;
 * it serves that user and session only.
 *
 * Each prompt arrives as a #DevbgConsentPrompt; answer it with
 * devbg_consent_prompt_answer() when the person has answered, from the
 * signal handler or later. A use (sync) consent that is allowed is
 * remembered by devbgd for this user, app and device model until revoked
 * (devbg_client_revoke_permission_async()); a servicing (update) consent
 * is asked every time (devbg_consent_prompt_get_remembered()). devbgd
 * waits ConsentTimeout seconds (60 by default) for an answer; then, or
 * when the app leaves, it withdraws the prompt: take it off the screen on
 * #DevbgConsentAgent::prompt-withdrawn.
 *
 * The agent accepts calls only from devbgd, keeps itself registered when
 * devbgd restarts, and when it is disposed denies what is still open and
 * unregisters.
 */

/**
 * DevbgConsentPrompt:
 *
 * One consent prompt: which app asks to use which device, and how. Its
 * fields do not change; it is open until answered or withdrawn.
 *
 * Since: 0.2
 */
/**
 * DEVBG_TYPE_CONSENT_PROMPT:
 *
 * The #GType of #DevbgConsentPrompt.
 *
 * Since: 0.2
 */
#define DEVBG_TYPE_CONSENT_PROMPT (devbg_consent_prompt_get_type ())
G_DECLARE_FINAL_TYPE (DevbgConsentPrompt, devbg_consent_prompt, DEVBG, CONSENT_PROMPT, GObject)

/**
 * DevbgConsentAgent:
 *
 * A consent agent registered with devbgd for its user and session.
 *
 * Since: 0.2
 */
/**
 * DEVBG_TYPE_CONSENT_AGENT:
 *
 * The #GType of #DevbgConsentAgent.
 *
 * Since: 0.2
 */
#define DEVBG_TYPE_CONSENT_AGENT (devbg_consent_agent_get_type ())
G_DECLARE_FINAL_TYPE (DevbgConsentAgent, devbg_consent_agent, DEVBG, CONSENT_AGENT, GObject)

const char         *devbg_consent_prompt_get_prompt_id (DevbgConsentPrompt *prompt);
guint32             devbg_consent_prompt_get_uid (DevbgConsentPrompt *prompt);
const char         *devbg_consent_prompt_get_app_id (DevbgConsentPrompt *prompt);
const char         *devbg_consent_prompt_get_app_name (DevbgConsentPrompt *prompt);
const char         *devbg_consent_prompt_get_device_id (DevbgConsentPrompt *prompt);
const char         *devbg_consent_prompt_get_device_name (DevbgConsentPrompt *prompt);
const char         *devbg_consent_prompt_get_model_id (DevbgConsentPrompt *prompt);
DevbgTriggerType    devbg_consent_prompt_get_trigger_type (DevbgConsentPrompt *prompt);
const char * const *devbg_consent_prompt_get_warnings (DevbgConsentPrompt *prompt);
guint               devbg_consent_prompt_get_expected_duration_s (DevbgConsentPrompt *prompt);
gboolean            devbg_consent_prompt_get_remembered (DevbgConsentPrompt *prompt);
GVariant           *devbg_consent_prompt_get_details (DevbgConsentPrompt *prompt);
gboolean            devbg_consent_prompt_get_open (DevbgConsentPrompt *prompt);
gboolean            devbg_consent_prompt_answer (DevbgConsentPrompt *prompt,
                                                 gboolean            allow,
                                                 GError            **error);

DevbgConsentAgent  *devbg_consent_agent_new (DevbgClient *client,
                                             const char  *object_path);
DevbgClient        *devbg_consent_agent_get_client (DevbgConsentAgent *agent);
const char         *devbg_consent_agent_get_object_path (DevbgConsentAgent *agent);
gboolean            devbg_consent_agent_get_registered (DevbgConsentAgent *agent);

void                devbg_consent_agent_register_async (DevbgConsentAgent   *agent,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
gboolean            devbg_consent_agent_register_finish (DevbgConsentAgent *agent,
                                                         GAsyncResult      *result,
                                                         GError           **error);
gboolean            devbg_consent_agent_register_sync (DevbgConsentAgent *agent,
                                                       GCancellable      *cancellable,
                                                       GError           **error);
void                devbg_consent_agent_unregister_async (DevbgConsentAgent   *agent,
                                                          GCancellable        *cancellable,
                                                          GAsyncReadyCallback  callback,
                                                          gpointer             user_data);
gboolean            devbg_consent_agent_unregister_finish (DevbgConsentAgent *agent,
                                                           GAsyncResult      *result,
                                                           GError           **error);
gboolean            devbg_consent_agent_unregister_sync (DevbgConsentAgent *agent,
                                                         GCancellable      *cancellable,
                                                         GError           **error);

G_END_DECLS
