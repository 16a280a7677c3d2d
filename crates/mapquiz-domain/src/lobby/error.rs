//! Why a lobby command was refused: the exact French strings of protocol §2.6, which the web client matches
//! by substring (`Lobby non trouvé`, `pas autorisé`, `pas encore terminée`), so they must not drift.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A refused lobby command; `to_string()` is the `error.message` sent to the requesting socket.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq, Serialize, Deserialize)]
pub enum LobbyError {
    /// Raised by the transport before the lobby is looked up.
    #[error("lobbyId requis")]
    MissingLobbyId,
    /// Raised by the transport (`remove_player` without `playerId`).
    #[error("playerId requis")]
    MissingPlayerId,
    /// Raised by the transport (`invite_to_lobby` without `friendId`).
    #[error("friendId requis")]
    MissingFriendId,
    #[error("Nom de lobby invalide")]
    InvalidName,
    #[error("Paramètres de lobby invalides")]
    InvalidSettings,
    #[error("Statut invalide")]
    InvalidStatus,
    #[error("Données de progression invalides")]
    InvalidProgress,
    #[error("Lobby non trouvé")]
    NotFound,
    #[error("Vous n'êtes pas autorisé à rejoindre ce lobby")]
    NotInvited,
    #[error("La partie a déjà commencé")]
    AlreadyStarted,
    #[error("Le lobby est complet")]
    Full,
    #[error("Vous n'êtes pas dans ce lobby")]
    NotAMember,
    #[error("Non autorisé à inviter des joueurs dans ce lobby")]
    NotAllowedToInvite,
    #[error("Vous ne pouvez inviter que vos amis")]
    NotAFriend,
    #[error("Seul l'hôte peut modifier les paramètres du lobby")]
    OnlyHostSettings,
    #[error("Seul l'hôte peut démarrer la partie")]
    OnlyHostStart,
    #[error("Aucune région sélectionnée")]
    NoRegionSelected,
    #[error("La partie est déjà terminée")]
    AlreadyFinished,
    #[error("Seul l'hôte peut redémarrer la partie")]
    OnlyHostRestart,
    #[error("Impossible de supprimer le joueur: Lobby non trouvé")]
    KickLobbyNotFound,
    #[error("Impossible de supprimer le joueur: Seul l'hôte peut supprimer des joueurs")]
    KickOnlyHost,
    #[error("Impossible de supprimer le joueur: L'hôte ne peut pas se supprimer lui-même")]
    KickSelf,
    #[error("Impossible de récupérer les résultats: Lobby non trouvé")]
    ResultsLobbyNotFound,
    #[error("Impossible de récupérer les résultats: Vous n'êtes pas dans ce lobby")]
    ResultsNotAMember,
    #[error("Impossible de récupérer les résultats: La partie n'est pas encore terminée")]
    ResultsNotFinished,
}
