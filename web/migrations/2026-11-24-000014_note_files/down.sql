DROP TABLE note_files;
