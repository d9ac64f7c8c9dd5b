DROP TABLE responses;
DROP TABLE invitation_properties;
DROP TABLE invitations;
DROP TABLE surveys;
DROP TABLE api_keys;
DROP TABLE workspaces;
